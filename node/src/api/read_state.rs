//! Which paths a `read_state` request may ask for, as the IC allows them:
//! a bounded number of paths of bounded length, at most one request id
//! among `/request_status` paths and only its sender may read it, and
//! canister paths only of the effective canister. Checked before any
//! witness is built, so the work a request costs is bounded by its size.

use axum::http::StatusCode;

use crate::execution::ReplicatedState;
use crate::ic::status_tree::StatusTree;

/// Paths one request may carry (the IC's limit).
pub const MAX_PATHS: usize = 1_000;
/// Labels one path may have (the IC's limit).
pub const MAX_LABELS: usize = 127;

/// Why a `read_state` request's paths are refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// More than [`MAX_PATHS`] paths.
    #[error("at most {MAX_PATHS} paths may be read at once, not {0}")]
    TooManyPaths(usize),
    /// A path of more than [`MAX_LABELS`] labels.
    #[error("a path may have at most {MAX_LABELS} labels, not {0}")]
    PathTooLong(usize),
    /// `/request_status` paths of more than one request id.
    #[error("more than one request id in request_status paths")]
    SeveralRequestIds,
    /// A request status that someone else's call left.
    #[error("the request id was not sent by the caller")]
    NotTheSender,
    /// A canister path of another canister than the effective one.
    #[error("a canister path names another canister than the effective canister id")]
    OtherCanister,
    /// Private metadata asked for by someone not controlling its canister.
    #[error("the metadata section is private: only the canister's controllers may read it")]
    PrivateMetadata,
}

impl PathError {
    /// The HTTP status the IC answers this with.
    pub fn status(&self) -> StatusCode {
        match self {
            PathError::NotTheSender | PathError::PrivateMetadata => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Checks the rules `paths` must keep whoever sends them, through the
/// effective canister `effective` — cheap checks on the request's own
/// bytes, made before its signature is — and returns the request id whose
/// status they ask for, if any.
///
/// # Errors
/// [`PathError`] naming the first rule broken.
pub fn check_paths<'a>(
    paths: &'a [Vec<Vec<u8>>],
    effective: &[u8],
) -> Result<Option<&'a [u8]>, PathError> {
    if paths.len() > MAX_PATHS {
        return Err(PathError::TooManyPaths(paths.len()));
    }
    if let Some(path) = paths.iter().find(|path| path.len() > MAX_LABELS) {
        return Err(PathError::PathTooLong(path.len()));
    }
    let mut request_id: Option<&'a [u8]> = None;
    for path in paths {
        match path.as_slice() {
            [label, id, ..] if label == b"request_status" => {
                if request_id.is_some_and(|first| first != id.as_slice()) {
                    return Err(PathError::SeveralRequestIds);
                }
                request_id = Some(id);
            }
            [label, canister, ..] if label == b"canister" && canister != effective => {
                return Err(PathError::OtherCanister);
            }
            _ => {}
        }
    }
    Ok(request_id)
}

/// Checks that the authenticated `sender` may read the status of
/// `request_id` (only the request's own sender may), the certified
/// statuses being `statuses`: one lookup, before any witness is built.
///
/// # Errors
/// [`PathError::NotTheSender`].
pub fn check_sender(
    request_id: Option<&[u8]>,
    sender: &[u8],
    statuses: &StatusTree,
) -> Result<(), PathError> {
    let status = request_id
        .and_then(|id| <[u8; 32]>::try_from(id).ok())
        .and_then(|id| statuses.get(&id));
    if status.is_some_and(|status| status.sender != sender) {
        return Err(PathError::NotTheSender);
    }
    Ok(())
}

/// Checks that the authenticated `sender` may read every metadata section
/// `paths` name on `state`: a private one only if it controls the canister.
///
/// # Errors
/// [`PathError::PrivateMetadata`].
pub fn check_metadata(
    paths: &[Vec<Vec<u8>>],
    sender: &[u8],
    state: &ReplicatedState,
) -> Result<(), PathError> {
    for path in paths {
        let [label, id, section, name] = path.as_slice() else {
            continue;
        };
        if label != b"canister" || section != b"metadata" {
            continue;
        }
        let Some(canister) = state.canisters.get(id) else {
            continue;
        };
        let private = std::str::from_utf8(name)
            .ok()
            .and_then(|name| canister.code.as_ref()?.metadata.get(name))
            .is_some_and(|metadata| !metadata.public);
        if private && !canister.controllers.iter().any(|c| c == sender) {
            return Err(PathError::PrivateMetadata);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ic::state_tree::RequestStatus;
    use crate::ic::status_tree::StoredStatus;

    fn path(labels: &[&[u8]]) -> Vec<Vec<u8>> {
        labels.iter().map(|label| label.to_vec()).collect()
    }

    #[test]
    fn paths_are_bounded_and_request_statuses_are_their_senders_alone() {
        let mut statuses = StatusTree::default();
        let stored = StoredStatus {
            status: RequestStatus::Replied(b"DIDL".to_vec()),
            expiry_ns: 0,
            sender: b"alice".to_vec(),
        };
        statuses.insert([1; 32], stored);
        let canister = b"canister one".as_slice();
        let check = |paths: &[Vec<Vec<u8>>], sender: &[u8]| {
            let request_id = check_paths(paths, canister)?;
            check_sender(request_id, sender, &statuses)
        };

        let own = [
            path(&[b"time"]),
            path(&[b"request_status", &[1; 32], b"reply"]),
            path(&[b"request_status", &[1; 32], b"status"]),
            path(&[b"canister", canister, b"module_hash"]),
        ];
        assert_eq!(check(&own, b"alice"), Ok(()));
        assert_eq!(check(&own, b"mallory"), Err(PathError::NotTheSender));
        // An unknown request id is for anyone to find absent.
        let unknown = [path(&[b"request_status", &[2; 32]])];
        assert_eq!(check(&unknown, b"mallory"), Ok(()));

        let two_ids = [
            path(&[b"request_status", &[1; 32]]),
            path(&[b"request_status", &[2; 32]]),
        ];
        assert_eq!(check(&two_ids, b"alice"), Err(PathError::SeveralRequestIds));
        let elsewhere = [path(&[b"canister", b"another one", b"controllers"])];
        assert_eq!(check(&elsewhere, b"alice"), Err(PathError::OtherCanister));

        let many = vec![path(&[b"time"]); MAX_PATHS + 1];
        assert_eq!(
            check(&many, b"alice"),
            Err(PathError::TooManyPaths(MAX_PATHS + 1))
        );
        assert_eq!(check(&many[1..], b"alice"), Ok(()));
        let long = [vec![b"x".to_vec(); MAX_LABELS + 1]];
        assert_eq!(
            check(&long, b"alice"),
            Err(PathError::PathTooLong(MAX_LABELS + 1))
        );
    }
}
