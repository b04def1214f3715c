//! A secret value that never prints itself.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A token, password or shared secret. `Debug`, `Display` and `Serialize` all show `***`;
/// only [`Secret::expose`] gives the value, at the one place it is sent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// Empty or a `CHANGE_ME` placeholder from an example config: a daemon refuses these.
    pub fn is_placeholder(&self) -> bool {
        self.is_empty() || self.0.trim().to_ascii_uppercase().starts_with("CHANGE_ME")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(serde_json::to_string(&s).unwrap_or_default(), "\"***\"");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn placeholders_are_recognised() {
        assert!(Secret::new("").is_placeholder());
        assert!(Secret::new("  ").is_placeholder());
        assert!(Secret::new("CHANGE_ME").is_placeholder());
        assert!(Secret::new("change_me_admin").is_placeholder());
        assert!(!Secret::new("s3cr3t").is_placeholder());
    }
}
