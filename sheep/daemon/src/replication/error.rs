//! What replicated object I/O fails with: the local copy's store error, or
//! the sheepdog result a replica (or the cluster state) answered. The two
//! stay apart so that a peer's HALT, NETWORK_ERROR or NO_SPACE reaches the
//! client as that result, not squeezed into a local I/O error.

use crate::proto::SdResult;
use crate::store::StoreError;

/// A replicated operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// This node's copy failed in the local store.
    #[error(transparent)]
    Local(#[from] StoreError),
    /// A replica answered this result, or the cluster could not serve the
    /// operation (HALT: no replica to place it on; NETWORK_ERROR: a replica
    /// stayed unreachable; OLD_NODE_VER: the view kept changing).
    #[error("replica answered {0:?}")]
    Remote(SdResult),
}

impl ReplicaError {
    /// The sheepdog result to answer the client with.
    pub fn result(&self) -> SdResult {
        match self {
            ReplicaError::Local(e) => e.result(),
            ReplicaError::Remote(c) => *c,
        }
    }

    /// Whether the object does not exist (locally or on the replica asked).
    pub fn is_no_obj(&self) -> bool {
        matches!(
            self,
            ReplicaError::Local(StoreError::NoObj(_)) | ReplicaError::Remote(SdResult::NoObj)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_result_keeps_its_meaning() {
        for c in [
            SdResult::Halt,
            SdResult::NetworkError,
            SdResult::NoSpace,
            SdResult::Readonly,
            SdResult::Eio,
        ] {
            assert_eq!(ReplicaError::Remote(c).result(), c);
        }
    }

    #[test]
    fn a_local_failure_maps_like_the_store() {
        let io = ReplicaError::from(StoreError::Io(std::io::Error::other("disk")));
        assert_eq!(io.result(), SdResult::Eio);
        assert_eq!(
            ReplicaError::from(StoreError::NoSpace).result(),
            SdResult::NoSpace
        );
        assert!(ReplicaError::from(StoreError::NoObj(7)).is_no_obj());
        assert!(ReplicaError::Remote(SdResult::NoObj).is_no_obj());
        assert!(!ReplicaError::Remote(SdResult::Eio).is_no_obj());
    }
}
