//! Block verification: a block is kept or served only when its bytes hash to its CID.

use cid::Cid;
use sha2::{Digest, Sha256};
use std::fmt;

/// The largest block accepted (2 MiB): what IPFS implementations exchange over Bitswap and
/// trustless gateways, so a bigger block could not have come from the network honestly.
pub const MAX_BLOCK_BYTES: usize = 2 * 1024 * 1024;

/// Multihash function codes [`verify`] can hash.
pub mod hash {
    pub const IDENTITY: u64 = 0x00;
    pub const SHA2_256: u64 = 0x12;
    pub const BLAKE3: u64 = 0x1e;
}

/// Why a block was refused. The `Display` text is written for a user: it can go into a pin's
/// `info.status_details` as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The block is larger than [`MAX_BLOCK_BYTES`].
    TooLarge { size: usize },
    /// The CID names a hash function this service does not verify (the multihash code).
    UnsupportedHash(u64),
    /// The CID's digest has a length its hash function cannot produce.
    DigestLength { code: u64, len: usize },
    /// The bytes do not hash to the CID's digest: corrupt or substituted content.
    Mismatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size } => write!(
                f,
                "block of {size} bytes is over the {MAX_BLOCK_BYTES}-byte limit"
            ),
            Self::UnsupportedHash(code) => write!(
                f,
                "unsupported hash function 0x{code:x} (supported: sha2-256, blake3, identity)"
            ),
            Self::DigestLength { code, len } => write!(
                f,
                "CID digest of {len} bytes is not valid for hash function 0x{code:x}"
            ),
            Self::Mismatch => f.write_str("block content does not match its CID's hash"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Checks that `bytes` is the block `cid` names: hashed with the CID's multihash function,
/// digest and digest length compared. Blocks over [`MAX_BLOCK_BYTES`] are refused unhashed.
pub fn verify(cid: &Cid, bytes: &[u8]) -> Result<(), VerifyError> {
    if bytes.len() > MAX_BLOCK_BYTES {
        return Err(VerifyError::TooLarge { size: bytes.len() });
    }
    let mh = cid.hash();
    let (code, digest) = (mh.code(), mh.digest());
    let matches = match code {
        hash::IDENTITY => digest == bytes,
        // Full 32-byte digests only: what every writer of sha2-256 and blake3 CIDs uses.
        // (Truncated blake3 output would cost its XOF reader, ~6 KB of wasm, for CIDs that
        // nothing makes.)
        hash::SHA2_256 | hash::BLAKE3 if digest.len() != 32 => {
            return Err(VerifyError::DigestLength {
                code,
                len: digest.len(),
            })
        }
        hash::SHA2_256 => Sha256::digest(bytes).as_slice() == digest,
        hash::BLAKE3 => blake3::hash(bytes).as_bytes() == digest,
        other => return Err(VerifyError::UnsupportedHash(other)),
    };
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// The block an identity-hash CID carries inline, or `None` for any other CID. Such a block
/// needs no fetch and no storage, but its links (a dag-cbor map, a dag-pb directory) are part
/// of the DAG and must be followed like any other block's: pass these bytes to
/// [`crate::ipld::links::links`].
pub fn inline_bytes(cid: &Cid) -> Option<&[u8]> {
    (cid.hash().code() == hash::IDENTITY).then(|| cid.hash().digest())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cid::multihash::Multihash;

    fn cid_of(code: u64, digest: &[u8]) -> Cid {
        Cid::new_v1(0x55, Multihash::wrap(code, digest).unwrap())
    }

    #[test]
    fn sha2_blake3_and_identity_known_vectors() {
        // sha2-256("abc") from FIPS 180-2; blake3("") from the BLAKE3 reference test vectors.
        let abc = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(verify(&cid_of(hash::SHA2_256, &abc), b"abc"), Ok(()));
        assert_eq!(
            verify(&cid_of(hash::SHA2_256, &abc), b"abd"),
            Err(VerifyError::Mismatch)
        );
        let empty = hex("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
        assert_eq!(verify(&cid_of(hash::BLAKE3, &empty), b""), Ok(()));
        assert_eq!(
            verify(&cid_of(hash::BLAKE3, &empty[..16]), b""),
            Err(VerifyError::DigestLength {
                code: 0x1e,
                len: 16
            })
        );
        assert_eq!(
            verify(&cid_of(hash::BLAKE3, &empty), b"x"),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&cid_of(hash::IDENTITY, b"inline"), b"inline"),
            Ok(())
        );
        assert_eq!(
            verify(&cid_of(hash::IDENTITY, b"inline"), b"inlinE"),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            inline_bytes(&cid_of(hash::IDENTITY, b"inline")),
            Some(&b"inline"[..])
        );
        assert_eq!(inline_bytes(&cid_of(hash::SHA2_256, &abc)), None);
    }

    #[test]
    fn refuses_unknown_hashes_bad_lengths_and_big_blocks() {
        let e = verify(&cid_of(0x13, &[0; 64]), b"abc").unwrap_err();
        assert_eq!(e, VerifyError::UnsupportedHash(0x13));
        assert!(e.to_string().contains("0x13"));
        assert_eq!(
            verify(&cid_of(hash::SHA2_256, &[0; 20]), b"abc"),
            Err(VerifyError::DigestLength {
                code: 0x12,
                len: 20
            })
        );
        assert!(matches!(
            verify(&cid_of(hash::BLAKE3, &[]), b""),
            Err(VerifyError::DigestLength { .. })
        ));
        let big = vec![0u8; MAX_BLOCK_BYTES + 1];
        let e = verify(&cid_of(hash::SHA2_256, &[0; 32]), &big).unwrap_err();
        assert_eq!(e, VerifyError::TooLarge { size: big.len() });
        assert!(e.to_string().contains("2097152"));
        let max = vec![7u8; MAX_BLOCK_BYTES];
        let ok = Sha256::digest(&max);
        assert_eq!(verify(&cid_of(hash::SHA2_256, &ok), &max), Ok(()));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
