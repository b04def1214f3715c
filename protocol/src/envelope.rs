//! The `{code, message, data}` envelope every deployd answer is wrapped in.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<T> {
    pub code: u16,
    pub message: String,
    pub data: Option<T>,
}

impl<T> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self {
            code: 200,
            message: "ok".to_string(),
            data: Some(data),
        }
    }

    pub fn empty_ok() -> Self {
        Self {
            code: 200,
            message: "ok".to_string(),
            data: None,
        }
    }

    pub fn error(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }
}
