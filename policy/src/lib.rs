//! `lockstep-policy`: the authorization policy shared by the Lockstep server and the codec
//! server — which principals hold which roles in which namespaces. One module, no I/O beyond
//! reading the policy file.
//!
//! Never: grant anything that no rule grants (deny by default), or treat a malformed policy as
//! empty (it is an error naming the file and the grant).
//!
//! ```toml
//! [[grant]]
//! principals = ["spiffe://lockstep/worker", "spiffe://acme/workers/*"]
//! namespaces = ["default", "orders-*"]
//! roles = ["worker"]
//! ```
//! Principals and namespaces are exact names or globs (`*`, `?`, `[a-z]`). Anything not granted
//! is denied. `admin` implies every other role; `admin` on namespace `*` is a global
//! administrator.

use std::{fmt, path::Path, str::FromStr};

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

/// A role a principal may hold in a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Polls task queues and responds to tasks.
    Worker,
    /// Starts, signals, queries and cancels workflows.
    Client,
    /// Lists and describes workflows and reads their histories.
    Reader,
    /// Everything, including namespace administration and termination.
    Admin,
}

impl Role {
    /// The role's name as written in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Client => "client",
            Role::Reader => "reader",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "worker" => Ok(Role::Worker),
            "client" => Ok(Role::Client),
            "reader" => Ok(Role::Reader),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}; roles are worker, client, reader, admin"
            )),
        }
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read the policy file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is not a valid policy.
    #[error("the policy {origin} is invalid: {reason}")]
    Invalid {
        /// Where the policy came from.
        origin: String,
        /// What to fix.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    grant: Vec<GrantFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantFile {
    principals: Vec<String>,
    namespaces: Vec<String>,
    roles: Vec<Role>,
}

struct Pattern {
    text: String,
    matcher: GlobMatcher,
}

impl Pattern {
    fn new(text: &str, origin: &str) -> Result<Self, PolicyError> {
        if text.is_empty() {
            return Err(PolicyError::Invalid {
                origin: origin.into(),
                reason: "an empty principal or namespace pattern matches nothing; remove it".into(),
            });
        }
        let glob = Glob::new(text).map_err(|err| PolicyError::Invalid {
            origin: origin.into(),
            reason: format!("pattern {text:?} is not a valid glob: {err}"),
        })?;
        Ok(Self {
            text: text.into(),
            matcher: glob.compile_matcher(),
        })
    }

    fn matches(&self, value: &str) -> bool {
        self.matcher.is_match(value)
    }
}

struct Grant {
    principals: Vec<Pattern>,
    namespaces: Vec<Pattern>,
    roles: Vec<Role>,
}

impl Grant {
    fn applies_to(&self, principal: &str) -> bool {
        self.principals.iter().any(|p| p.matches(principal))
    }

    fn covers_namespace(&self, namespace: &str) -> bool {
        self.namespaces.iter().any(|n| n.matches(namespace))
    }

    fn grants(&self, role: Role) -> bool {
        self.roles.iter().any(|r| *r == role || *r == Role::Admin)
    }
}

/// A loaded, validated policy. Deny by default.
pub struct Policy {
    grants: Vec<Grant>,
}

impl Policy {
    /// Reads and validates a TOML policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|err| PolicyError::Read {
            path: path.display().to_string(),
            reason: err.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a TOML policy; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|err| PolicyError::Invalid {
            origin: origin.into(),
            reason: err.to_string(),
        })?;
        let mut grants = Vec::with_capacity(file.grant.len());
        for (index, grant) in file.grant.into_iter().enumerate() {
            let where_ = format!("{origin} (grant #{})", index + 1);
            if grant.principals.is_empty() || grant.namespaces.is_empty() || grant.roles.is_empty()
            {
                return Err(PolicyError::Invalid {
                    origin: where_,
                    reason: "principals, namespaces and roles must each list at least one entry"
                        .into(),
                });
            }
            grants.push(Grant {
                principals: compile(&grant.principals, &where_)?,
                namespaces: compile(&grant.namespaces, &where_)?,
                roles: grant.roles,
            });
        }
        Ok(Self { grants })
    }

    /// Whether `principal` holds `role` (or admin) in `namespace`.
    pub fn allows(&self, principal: &str, namespace: &str, role: Role) -> bool {
        self.grants
            .iter()
            .any(|g| g.applies_to(principal) && g.covers_namespace(namespace) && g.grants(role))
    }

    /// Whether `principal` holds any role at all in `namespace`.
    pub fn has_any_role(&self, principal: &str, namespace: &str) -> bool {
        self.grants
            .iter()
            .any(|g| g.applies_to(principal) && g.covers_namespace(namespace))
    }

    /// Whether the policy mentions `principal` at all.
    pub fn knows(&self, principal: &str) -> bool {
        self.grants.iter().any(|g| g.applies_to(principal))
    }

    /// Whether `principal` is an administrator of every namespace (admin on `*`).
    pub fn is_global_admin(&self, principal: &str) -> bool {
        self.grants.iter().any(|g| {
            g.applies_to(principal)
                && g.roles.contains(&Role::Admin)
                && g.namespaces.iter().any(|n| n.text == "*")
        })
    }
}

fn compile(patterns: &[String], origin: &str) -> Result<Vec<Pattern>, PolicyError> {
    patterns.iter().map(|p| Pattern::new(p, origin)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
        [[grant]]
        principals = ["spiffe://lockstep/admin"]
        namespaces = ["*"]
        roles = ["admin"]

        [[grant]]
        principals = ["spiffe://lockstep/worker", "spiffe://acme/workers/*"]
        namespaces = ["default", "orders-*"]
        roles = ["worker"]

        [[grant]]
        principals = ["spiffe://lockstep/client"]
        namespaces = ["default"]
        roles = ["client", "reader"]
    "#;

    #[test]
    fn grants_exact_and_glob() {
        let policy = Policy::parse(POLICY, "test").unwrap();
        assert!(policy.allows("spiffe://lockstep/worker", "default", Role::Worker));
        assert!(policy.allows("spiffe://acme/workers/eu", "orders-eu", Role::Worker));
        assert!(!policy.allows("spiffe://lockstep/worker", "default", Role::Client));
        assert!(!policy.allows("spiffe://lockstep/worker", "billing", Role::Worker));
        assert!(policy.allows("spiffe://lockstep/client", "default", Role::Reader));
    }

    #[test]
    fn admin_implies_every_role_and_unknown_is_denied() {
        let policy = Policy::parse(POLICY, "test").unwrap();
        for role in [Role::Worker, Role::Client, Role::Reader, Role::Admin] {
            assert!(policy.allows("spiffe://lockstep/admin", "anything", role));
            assert!(!policy.allows("spiffe://lockstep/stranger", "default", role));
        }
        assert!(policy.is_global_admin("spiffe://lockstep/admin"));
        assert!(!policy.is_global_admin("spiffe://lockstep/worker"));
        assert!(!policy.knows("spiffe://lockstep/stranger"));
    }

    #[test]
    fn empty_policy_denies_everything() {
        let policy = Policy::parse("", "test").unwrap();
        assert!(!policy.allows("spiffe://lockstep/admin", "default", Role::Admin));
    }

    #[test]
    fn bad_policies_say_what_to_fix() {
        let unknown_role = Policy::parse(
            "[[grant]]\nprincipals=[\"a\"]\nnamespaces=[\"*\"]\nroles=[\"root\"]",
            "p.toml",
        );
        assert!(unknown_role.err().unwrap().to_string().contains("root"));
        let empty = Policy::parse(
            "[[grant]]\nprincipals=[]\nnamespaces=[\"*\"]\nroles=[\"admin\"]",
            "p.toml",
        );
        assert!(empty.err().unwrap().to_string().contains("at least one"));
        let typo = Policy::parse("[[grants]]\n", "p.toml");
        assert!(typo.err().unwrap().to_string().contains("p.toml"));
    }
}
