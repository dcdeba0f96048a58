//! MurmurHash3 x64 128-bit (seed 0), first 64 bits: the hash UnixFS HAMT directories place
//! names with (multihash 0x22, `murmur3-x64-64`).

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

/// The first half (`h1`) of MurmurHash3_x64_128 of `data` with seed 0. Its big-endian bytes
/// are the digest go-unixfs and js HAMTs take their bucket bits from, most significant first.
pub fn x64_64(data: &[u8]) -> u64 {
    let (mut h1, mut h2) = (0u64, 0u64);
    let blocks = data.chunks_exact(16);
    let tail = blocks.remainder();
    for block in blocks {
        let (k1, k2) = block.split_at(8);
        let k1 = u64::from_le_bytes(k1.try_into().unwrap_or_default());
        let k2 = u64::from_le_bytes(k2.try_into().unwrap_or_default());
        h1 ^= mix_k1(k1);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix_k2(k2);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let (mut k1, mut k2) = (0u64, 0u64);
    for (i, &b) in tail.iter().enumerate() {
        if i < 8 {
            k1 |= u64::from(b) << (8 * i);
        } else {
            k2 |= u64::from(b) << (8 * (i - 8));
        }
    }
    if tail.len() > 8 {
        h2 ^= mix_k2(k2);
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(k1);
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    fmix(h1).wrapping_add(fmix(h2))
}

fn mix_k1(k: u64) -> u64 {
    k.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

fn mix_k2(k: u64) -> u64 {
    k.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

#[cfg(test)]
mod tests {
    /// Digests printed by `@multiformats/murmur3` 2.2.8's `murmur364` (the hasher
    /// `@ipld/unixfs`, and so `ipfs-car`, shards directories with).
    #[test]
    fn matches_multiformats_murmur364() {
        for (input, hex) in [
            ("", "0000000000000000"),
            ("a", "85555565f6597889"),
            ("hello", "cbd8a7b341bd9b02"),
            ("f0000.txt", "20129085061c4253"),
            (
                "The quick brown fox jumps over the lazy dog",
                "e34bbc7bbc071b6c",
            ),
            ("sixteen-byte-str", "380a1d7e2f01dc8e"),
            ("seventeen bytes!!", "4932487fbc4d71b6"),
        ] {
            assert_eq!(
                format!("{:016x}", super::x64_64(input.as_bytes())),
                hex,
                "{input:?}"
            );
        }
    }
}
