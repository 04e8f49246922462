//! The subset of Temporal's list-filter language that users type most:
//! `WorkflowId = 'x' AND (ExecutionStatus = 'Running' OR StartTime > '2026-01-01T00:00:00Z')`,
//! `BETWEEN … AND …`, `IN (…)`, `STARTS_WITH`, `IS [NOT] NULL`, custom search attributes by
//! name, and `ORDER BY StartTime DESC`. Anything else is refused with a message naming it.

/// A parsed list query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The filter; None matches everything.
    pub filter: Option<Expr>,
}

/// A filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
    /// `field op value`.
    Compare(String, Op, Value),
    /// `field BETWEEN low AND high` (inclusive).
    Between(String, Value, Value),
    /// `field IN (values…)`.
    In(String, Vec<Value>),
    /// `field STARTS_WITH 'prefix'`.
    StartsWith(String, String),
    /// `field IS NULL` (true) or `IS NOT NULL` (false).
    IsNull(String, bool),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A quoted string.
    Str(String),
    /// A number.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
}

/// Why a query was refused; the message names the unsupported or malformed part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid list query: {0}")]
pub struct QueryError(pub String);

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    _ => Token::Comma,
                });
            }
            '\'' | '"' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, ch)) if ch == c => {
                            // A doubled quote is an escaped quote.
                            if chars.peek().map(|&(_, n)| n) == Some(c) {
                                chars.next();
                                text.push(c);
                            } else {
                                break;
                            }
                        }
                        Some((_, '\\')) => match chars.next() {
                            Some((_, escaped)) => text.push(escaped),
                            None => {
                                return Err(QueryError(format!(
                                    "unterminated string starting at {at}"
                                )));
                            }
                        },
                        Some((_, ch)) => text.push(ch),
                        None => {
                            return Err(QueryError(format!(
                                "unterminated string starting at {at}"
                            )));
                        }
                    }
                }
                tokens.push(Token::Str(text));
            }
            '`' => {
                chars.next();
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some((_, '`')) => break,
                        Some((_, ch)) => name.push(ch),
                        None => return Err(QueryError(format!("unterminated `name` at {at}"))),
                    }
                }
                tokens.push(Token::Ident(name));
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let next = chars.peek().map(|&(_, n)| n);
                let op = match (c, next) {
                    ('=', _) => Op::Eq,
                    ('!', Some('=')) => Op::Ne,
                    ('<', Some('>')) => Op::Ne,
                    ('<', Some('=')) => Op::Le,
                    ('>', Some('=')) => Op::Ge,
                    ('<', _) => Op::Lt,
                    ('>', _) => Op::Gt,
                    _ => return Err(QueryError(format!("unexpected '!' at {at}"))),
                };
                if matches!(op, Op::Ne | Op::Le | Op::Ge) {
                    chars.next();
                }
                tokens.push(Token::Op(op));
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let mut text = String::new();
                while let Some(&(_, ch)) = chars.peek() {
                    if ch.is_ascii_digit() || matches!(ch, '-' | '.' | 'e' | 'E' | '+') {
                        text.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let number = text
                    .parse()
                    .map_err(|_| QueryError(format!("{text:?} is not a number")))?;
                tokens.push(Token::Num(number));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&(_, ch)) = chars.peek() {
                    if ch.is_alphanumeric() || ch == '_' || ch == '.' {
                        name.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Ident(name));
            }
            other => {
                return Err(QueryError(format!(
                    "unexpected character {other:?} at {at}"
                )));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), QueryError> {
        if self.keyword(word) {
            self.at += 1;
            Ok(())
        } else {
            Err(QueryError(format!(
                "expected {word}, found {}",
                describe(self.peek())
            )))
        }
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.primary()?;
        while self.keyword("AND") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        match self.next() {
            Some(Token::LParen) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::RParen) => Ok(inner),
                    other => Err(QueryError(format!(
                        "expected ')', found {}",
                        describe(other.as_ref())
                    ))),
                }
            }
            Some(Token::Ident(word)) if word.eq_ignore_ascii_case("NOT") => Err(QueryError(
                "NOT is not supported; use != or IS NOT NULL".into(),
            )),
            Some(Token::Ident(field)) => self.condition(field),
            other => Err(QueryError(format!(
                "expected a search attribute name, found {}",
                describe(other.as_ref())
            ))),
        }
    }

    fn condition(&mut self, field: String) -> Result<Expr, QueryError> {
        if self.keyword("BETWEEN") {
            self.at += 1;
            let low = self.value()?;
            self.expect_keyword("AND")?;
            let high = self.value()?;
            return Ok(Expr::Between(field, low, high));
        }
        if self.keyword("IN") {
            self.at += 1;
            if self.next() != Some(Token::LParen) {
                return Err(QueryError("IN needs a parenthesised list of values".into()));
            }
            let mut values = vec![self.value()?];
            loop {
                match self.next() {
                    Some(Token::Comma) => values.push(self.value()?),
                    Some(Token::RParen) => break,
                    other => {
                        return Err(QueryError(format!(
                            "expected ',' or ')' in IN list, found {}",
                            describe(other.as_ref())
                        )));
                    }
                }
            }
            return Ok(Expr::In(field, values));
        }
        if self.keyword("STARTS_WITH") {
            self.at += 1;
            return match self.value()? {
                Value::Str(prefix) => Ok(Expr::StartsWith(field, prefix)),
                _ => Err(QueryError("STARTS_WITH needs a string".into())),
            };
        }
        if self.keyword("IS") {
            self.at += 1;
            let negated = self.keyword("NOT");
            if negated {
                self.at += 1;
            }
            self.expect_keyword("NULL")?;
            return Ok(Expr::IsNull(field, !negated));
        }
        for unsupported in ["LIKE", "NOT"] {
            if self.keyword(unsupported) {
                return Err(QueryError(format!(
                    "the {unsupported} operator is not supported"
                )));
            }
        }
        match self.next() {
            Some(Token::Op(op)) => Ok(Expr::Compare(field, op, self.value()?)),
            other => Err(QueryError(format!(
                "expected an operator after {field}, found {}",
                describe(other.as_ref())
            ))),
        }
    }

    fn value(&mut self) -> Result<Value, QueryError> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Value::Str(s)),
            Some(Token::Num(n)) => Ok(Value::Num(n)),
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            other => Err(QueryError(format!(
                "expected a value, found {}",
                describe(other.as_ref())
            ))),
        }
    }
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "the end of the query".into(),
        Some(Token::Ident(w)) => format!("{w:?}"),
        Some(Token::Str(s)) => format!("'{s}'"),
        Some(Token::Num(n)) => n.to_string(),
        Some(Token::Op(op)) => format!("{op:?}"),
        Some(Token::LParen) => "'('".into(),
        Some(Token::RParen) => "')'".into(),
        Some(Token::Comma) => "','".into(),
    }
}

/// Parses a list query; an empty query matches everything.
pub fn parse(input: &str) -> Result<Query, QueryError> {
    let mut tokens = tokenize(input)?;
    // ORDER BY: only the order the index already has.
    if let Some(at) = tokens
        .windows(2)
        .position(|w| matches!(w, [Token::Ident(a), Token::Ident(b)] if a.eq_ignore_ascii_case("ORDER") && b.eq_ignore_ascii_case("BY")))
    {
        let order: Vec<Token> = tokens.split_off(at);
        let ok = match &order[2..] {
            [Token::Ident(field)] => field == "StartTime",
            [Token::Ident(field), Token::Ident(dir)] => field == "StartTime" && dir.eq_ignore_ascii_case("DESC"),
            _ => false,
        };
        if !ok {
            return Err(QueryError("only ORDER BY StartTime DESC is supported".into()));
        }
    }
    if tokens.is_empty() {
        return Ok(Query { filter: None });
    }
    let mut parser = Parser { tokens, at: 0 };
    let filter = parser.or()?;
    if let Some(extra) = parser.peek() {
        return Err(QueryError(format!(
            "unexpected {} after the filter",
            describe(Some(extra))
        )));
    }
    Ok(Query {
        filter: Some(filter),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(field: &str, op: Op, value: Value) -> Expr {
        Expr::Compare(field.into(), op, value)
    }

    #[test]
    fn parses_the_common_forms() {
        let q = parse("WorkflowId = 'a' AND (ExecutionStatus = \"Running\" OR StartTime >= '2026-01-01T00:00:00Z') ORDER BY StartTime DESC").unwrap();
        assert_eq!(
            q.filter.unwrap(),
            Expr::And(
                Box::new(cmp("WorkflowId", Op::Eq, Value::Str("a".into()))),
                Box::new(Expr::Or(
                    Box::new(cmp("ExecutionStatus", Op::Eq, Value::Str("Running".into()))),
                    Box::new(cmp(
                        "StartTime",
                        Op::Ge,
                        Value::Str("2026-01-01T00:00:00Z".into())
                    )),
                )),
            )
        );
        assert_eq!(
            parse("CloseTime BETWEEN '2026-01-01T00:00:00Z' AND '2026-02-01T00:00:00Z'")
                .unwrap()
                .filter
                .unwrap(),
            Expr::Between(
                "CloseTime".into(),
                Value::Str("2026-01-01T00:00:00Z".into()),
                Value::Str("2026-02-01T00:00:00Z".into())
            )
        );
        assert_eq!(
            parse("Priority >= 3 AND `Customer Id` IN ('a', 'b')")
                .unwrap()
                .filter
                .unwrap(),
            Expr::And(
                Box::new(cmp("Priority", Op::Ge, Value::Num(3.0))),
                Box::new(Expr::In(
                    "Customer Id".into(),
                    vec![Value::Str("a".into()), Value::Str("b".into())]
                )),
            )
        );
        assert_eq!(parse("").unwrap().filter, None);
        assert_eq!(parse("  ORDER BY StartTime DESC").unwrap().filter, None);
        assert!(matches!(
            parse("x IS NOT NULL").unwrap().filter,
            Some(Expr::IsNull(_, false))
        ));
    }

    #[test]
    fn refuses_what_it_does_not_support_by_name() {
        for (query, needle) in [
            ("WorkflowId LIKE 'a%'", "LIKE"),
            ("NOT WorkflowId = 'a'", "NOT"),
            ("WorkflowId = 'a' ORDER BY CloseTime", "ORDER BY"),
            ("WorkflowId = ", "value"),
            ("WorkflowId = 'a' garbage", "garbage"),
            ("(WorkflowId = 'a'", "')'"),
            ("WorkflowId = 'unterminated", "unterminated"),
            ("WorkflowId ~ 'a'", "'~'"),
        ] {
            let err = parse(query).expect_err(query);
            assert!(err.0.contains(needle), "{query}: {err}");
        }
    }
}
