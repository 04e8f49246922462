//! Who may decode and encode: the same TOML policy format as the Lockstep server's, read by a
//! loader of our own (the codec server never depends on `lockstep-server`).
//!
//! ```toml
//! [[grant]]
//! principals = ["spiffe://lockstep/viewer", "spiffe://acme/ops/*"]
//! namespaces = ["default", "orders-*"]
//! roles = ["reader"]
//! ```
//! Principals and namespaces are exact names or globs (`*`, `?`, `[a-z]`). Anything not granted
//! is denied; `admin` implies every role. `/decode` needs [`Role::Reader`], `/encode`
//! [`Role::Client`]. A server policy file can be used as it is.

use std::{fmt, path::Path};

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

/// A role a principal may hold in a namespace (the server's four roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Polls task queues; grants nothing on the codec server.
    Worker,
    /// Starts and signals workflows; may `/encode`.
    Client,
    /// Reads histories; may `/decode`.
    Reader,
    /// Everything.
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
        let invalid = |origin: &str, reason: String| PolicyError::Invalid {
            origin: origin.into(),
            reason,
        };
        let file: PolicyFile =
            toml::from_str(text).map_err(|err| invalid(origin, err.to_string()))?;
        let mut grants = Vec::with_capacity(file.grant.len());
        for (index, grant) in file.grant.into_iter().enumerate() {
            let here = format!("{origin} (grant #{})", index + 1);
            if grant.principals.is_empty() || grant.namespaces.is_empty() || grant.roles.is_empty()
            {
                return Err(invalid(
                    &here,
                    "principals, namespaces and roles must each list at least one entry".into(),
                ));
            }
            grants.push(Grant {
                principals: compile(&grant.principals, &here)?,
                namespaces: compile(&grant.namespaces, &here)?,
                roles: grant.roles,
            });
        }
        Ok(Self { grants })
    }

    /// Whether `principal` holds `role` (or admin) in `namespace`.
    pub fn allows(&self, principal: &str, namespace: &str, role: Role) -> bool {
        self.grants.iter().any(|g| {
            g.principals.iter().any(|p| p.is_match(principal))
                && g.namespaces.iter().any(|n| n.is_match(namespace))
                && g.roles.iter().any(|r| *r == role || *r == Role::Admin)
        })
    }
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

struct Grant {
    principals: Vec<GlobMatcher>,
    namespaces: Vec<GlobMatcher>,
    roles: Vec<Role>,
}

fn compile(patterns: &[String], origin: &str) -> Result<Vec<GlobMatcher>, PolicyError> {
    patterns
        .iter()
        .map(|text| {
            if text.is_empty() {
                return Err(PolicyError::Invalid {
                    origin: origin.into(),
                    reason: "an empty principal or namespace pattern matches nothing; remove it"
                        .into(),
                });
            }
            Glob::new(text)
                .map(|glob| glob.compile_matcher())
                .map_err(|err| PolicyError::Invalid {
                    origin: origin.into(),
                    reason: format!("pattern {text:?} is not a valid glob: {err}"),
                })
        })
        .collect()
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
        principals = ["spiffe://lockstep/viewer", "spiffe://acme/ops/*"]
        namespaces = ["default", "orders-*"]
        roles = ["reader"]

        [[grant]]
        principals = ["spiffe://lockstep/client"]
        namespaces = ["default"]
        roles = ["client", "reader"]
    "#;

    #[test]
    fn grants_exact_and_glob_and_denies_the_rest() {
        let policy = Policy::parse(POLICY, "test").unwrap();
        assert!(policy.allows("spiffe://lockstep/viewer", "default", Role::Reader));
        assert!(policy.allows("spiffe://acme/ops/eu", "orders-eu", Role::Reader));
        assert!(!policy.allows("spiffe://lockstep/viewer", "default", Role::Client));
        assert!(!policy.allows("spiffe://lockstep/viewer", "billing", Role::Reader));
        assert!(policy.allows("spiffe://lockstep/client", "default", Role::Client));
        assert!(!policy.allows("spiffe://lockstep/stranger", "default", Role::Reader));
        for role in [Role::Worker, Role::Client, Role::Reader, Role::Admin] {
            assert!(policy.allows("spiffe://lockstep/admin", "anything", role));
        }
        assert!(
            !Policy::parse("", "empty")
                .unwrap()
                .allows("a", "b", Role::Reader)
        );
    }

    #[test]
    fn bad_policies_say_what_to_fix() {
        let parse = |text: &str| Policy::parse(text, "p.toml").err().unwrap().to_string();
        assert!(
            parse("[[grant]]\nprincipals=[\"a\"]\nnamespaces=[\"*\"]\nroles=[\"root\"]")
                .contains("root")
        );
        assert!(
            parse("[[grant]]\nprincipals=[]\nnamespaces=[\"*\"]\nroles=[\"admin\"]")
                .contains("at least one")
        );
        assert!(
            parse("[[grant]]\nprincipals=[\"\"]\nnamespaces=[\"*\"]\nroles=[\"admin\"]")
                .contains("empty")
        );
        assert!(parse("[[grants]]\n").contains("p.toml"));
    }
}
