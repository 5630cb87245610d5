//! Result codes `SD_RES_*` carried in `rsp.result` (docs/sheepdog-facts.md §7).

use sdwire::Wire;

macro_rules! results {
    ($( $(#[$m:meta])* $code:literal => $var:ident, $name:literal, $desc:literal; )*) => {
        /// A response's result code (`rsp.result`, docs/sheepdog-facts.md §7).
        ///
        /// # Format
        /// A little-endian u32 at offset 16 of the response header. Public codes
        /// are 0x00..=0x1D, internal ones 0x81 and up; any other value decodes as
        /// [`SdResult::Unknown`] and re-encodes unchanged.
        #[derive(Wire, Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[wire(tag = u32, le, no_handler)]
        pub enum SdResult {
            $(
                #[doc = $desc]
                $(#[$m])*
                #[wire(opcode = $code)]
                $var,
            )*
            /// A code this implementation does not know, kept as sent.
            #[wire(other)]
            Unknown(u32),
        }

        impl SdResult {
            /// The raw code.
            pub fn code(&self) -> u32 {
                match self {
                    $( SdResult::$var => $code, )*
                    SdResult::Unknown(c) => *c,
                }
            }

            /// The result for a raw code.
            pub fn from_code(code: u32) -> SdResult {
                match code {
                    $( $code => SdResult::$var, )*
                    c => SdResult::Unknown(c),
                }
            }

            /// The C name without the `SD_RES_` prefix (e.g. `"NO_OBJ"`), or `"UNKNOWN_CODE"`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( SdResult::$var => $name, )*
                    SdResult::Unknown(_) => "UNKNOWN_CODE",
                }
            }

            /// What the code means, in a few words.
            pub fn description(&self) -> &'static str {
                match self {
                    $( SdResult::$var => $desc, )*
                    SdResult::Unknown(_) => "Unknown result code",
                }
            }

            /// Every known code, in numeric order.
            pub const ALL: &'static [SdResult] = &[$( SdResult::$var ),*];
        }
    };
}

results! {
    0x00 => Success, "SUCCESS", "Success";
    0x01 => UnknownError, "UNKNOWN", "Unknown error";
    0x02 => NoObj, "NO_OBJ", "No object found";
    0x03 => Eio, "EIO", "I/O error";
    0x04 => VdiExist, "VDI_EXIST", "VDI exists already";
    0x05 => InvalidParms, "INVALID_PARMS", "Invalid parameters";
    0x06 => SystemError, "SYSTEM_ERROR", "System error";
    0x07 => VdiLocked, "VDI_LOCKED", "VDI is already locked";
    0x08 => NoVdi, "NO_VDI", "No VDI found";
    0x09 => NoBaseVdi, "NO_BASE_VDI", "No base VDI found";
    0x0A => VdiRead, "VDI_READ", "Failed to read from requested VDI";
    0x0B => VdiWrite, "VDI_WRITE", "Failed to write to requested VDI";
    0x0C => BaseVdiRead, "BASE_VDI_READ", "Failed to read from base VDI";
    0x0D => BaseVdiWrite, "BASE_VDI_WRITE", "Failed to write to base VDI";
    0x0E => NoTag, "NO_TAG", "Failed to find requested tag";
    0x0F => Startup, "STARTUP", "System is still booting";
    0x10 => VdiNotLocked, "VDI_NOT_LOCKED", "VDI is not locked";
    0x11 => Shutdown, "SHUTDOWN", "System is shutting down";
    0x12 => NoMem, "NO_MEM", "Out of memory on server";
    0x13 => FullVdi, "FULL_VDI", "Maximum number of VDIs reached";
    0x14 => VerMismatch, "VER_MISMATCH", "Protocol version mismatch";
    0x15 => NoSpace, "NO_SPACE", "Server has no space for new objects";
    0x16 => WaitForFormat, "WAIT_FOR_FORMAT", "Waiting for cluster to be formatted";
    0x17 => WaitForJoin, "WAIT_FOR_JOIN", "Waiting for other nodes to join cluster";
    0x18 => JoinFailed, "JOIN_FAILED", "Node has failed to join cluster";
    0x19 => Halt, "HALT", "IO has halted as there are not enough living nodes";
    0x1A => Readonly, "READONLY", "Object is read-only";
    0x1D => InodeInvalidated, "INODE_INVALIDATED", "Inode object is invalidated";
    0x81 => OldNodeVer, "OLD_NODE_VER", "Request has an old epoch";
    0x82 => NewNodeVer, "NEW_NODE_VER", "Request has a new epoch";
    0x83 => NotFormatted, "NOT_FORMATTED", "Cluster has not been formatted";
    0x84 => InvalidCtime, "INVALID_CTIME", "Creation times differ";
    0x85 => InvalidEpoch, "INVALID_EPOCH", "Invalid epoch";
    0x86 => NetworkError, "NETWORK_ERROR", "Network error between sheep";
    0x87 => NoCache, "NO_CACHE", "No cache object found";
    0x88 => BufferSmall, "BUFFER_SMALL", "The buffer is too small";
    0x89 => ForceRecover, "FORCE_RECOVER", "Cluster is running/halted and cannot be force recovered";
    0x8A => NoStore, "NO_STORE", "Targeted backend store is not found";
    0x8B => NoSupport, "NO_SUPPORT", "Operation is not supported by backend store";
    0x8C => NodeInRecovery, "NODE_IN_RECOVERY", "Targeted node is in recovery";
    0x8D => Killed, "KILLED", "Node is killed";
    0x8E => OidExist, "OID_EXIST", "Object ID exists already";
    0x8F => Again, "AGAIN", "Ask to try again";
    0x90 => StaleObj, "STALE_OBJ", "Object may be stale";
    0x91 => ClusterError, "CLUSTER_ERROR", "Cluster driver error";
    0x92 => VdiNotEmpty, "VDI_NOT_EMPTY", "VDI is not empty";
    0x93 => NotFound, "NOT_FOUND", "Cannot find requested object";
    0x94 => Incomplete, "INCOMPLETE", "Object (in kv) is incomplete uploading";
    0x95 => CollectingCinfo, "COLLECTING_CINFO", "Sheep is collecting cluster wide status, not ready for operation";
    0x97 => GatewayMode, "GATEWAY_MODE", "Target node is gateway mode";
    0x98 => InvalidVnodesStrategy, "INVALID_VNODES_STRATEGY", "Invalid node vnodes strategy";
    0x99 => NoCheckpointEntry, "NO_CHECKPOINT_ENTRY", "Cannot find the checkpoint entry";
}

impl SdResult {
    /// Whether the code is `SUCCESS`.
    pub fn is_success(&self) -> bool {
        matches!(self, SdResult::Success)
    }
}

impl std::fmt::Display for SdResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({:#04x}): {}",
            self.name(),
            self.code(),
            self.description()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdwire::OpTable;

    #[test]
    fn codes() {
        assert_eq!(SdResult::FIXED_SIZE, Some(4));
        assert_eq!(SdResult::ALL.len(), 52);
        for r in SdResult::ALL {
            assert_eq!(SdResult::from_code(r.code()), *r);
            assert_eq!(r.tag(), r.code());
            let b = sdwire::to_vec(r, 0).unwrap();
            assert_eq!(sdwire::from_slice::<SdResult>(&b, 0).unwrap(), *r);
        }
        assert_eq!(
            sdwire::from_slice::<SdResult>(&[0x1b, 0, 0, 0], 0).unwrap(),
            SdResult::Unknown(0x1b)
        );
        assert_eq!(SdResult::VerMismatch.name(), "VER_MISMATCH");
    }
}
