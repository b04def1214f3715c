//! The failure code of each way a job can fail on the runner, named where the cause is
//! known (the clone's verdict, the engine's answer, the runtime node's code).

use protocol::failure::FailureCode;

use super::{GitError, RunError, Stop};

impl GitError {
    pub fn code(&self) -> FailureCode {
        match self {
            GitError::HostKeyMismatch { .. } => FailureCode::GitHostKey,
            GitError::UnknownHost { .. } => FailureCode::GitHostUnknown,
            GitError::KeyRefused { .. } => FailureCode::GitAuth,
            GitError::KeyUnreadable { .. } | GitError::KnownHostsUnreadable { .. } => {
                FailureCode::GitLocalFiles
            }
            GitError::RefNotFound { .. } => FailureCode::GitRefNotFound,
            GitError::Unreachable { .. } => FailureCode::GitUnreachable,
            GitError::RepoNotFound { .. } => FailureCode::GitRepoNotFound,
            GitError::Clone { .. } | GitError::Checkout { .. } => FailureCode::GitClone,
            GitError::Cancelled => FailureCode::Cancelled,
        }
    }
}

impl RunError {
    /// The code reported with the failure (a string: the runtime node's may be newer).
    pub fn code(&self) -> String {
        let code = match self {
            RunError::Clone(e) => e.code(),
            RunError::Context(_) => FailureCode::BuildContext,
            RunError::Build { code, .. } | RunError::Push { code, .. } => *code,
            RunError::Deploy { code, .. } => return code.clone(),
            RunError::Timeout { .. } => FailureCode::PhaseTimeout,
            RunError::Stopped(Stop::Cancelled(_)) => FailureCode::Cancelled,
            RunError::Stopped(Stop::LeaseLost(_)) => FailureCode::LeaseExpired,
            RunError::Internal(_) => FailureCode::Internal,
        };
        code.as_str().to_string()
    }
}
