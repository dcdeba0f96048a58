//! UnixFS over the fixtures: byte ranges of files and paths through directories and HAMTs.

use crate::*;
use edge_pinning::ipld::unixfs::{
    dir_step, file_pieces, file_size, hamt_step, Kind, Next, PbNode, Piece, UnixFs, UnixFsError,
};

/// Bytes `start..end` of the file at `cid`, fetching children from `store` as a gateway would.
fn read_range(store: &HashMap<Cid, Vec<u8>>, cid: &Cid, start: u64, end: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in file_pieces(cid, &store[cid], start, end).unwrap() {
        match piece {
            Piece::Inline(bytes) => out.extend_from_slice(bytes),
            Piece::Child { cid, start, end } => {
                let got = read_range(store, &cid, start, end);
                assert_eq!(got.len() as u64, end - start, "child {cid} short");
                out.extend(got);
            }
        }
    }
    out
}

/// Resolves `path` under `root`, one block per step; counts the HAMT descents.
fn resolve(store: &HashMap<Cid, Vec<u8>>, root: Cid, path: &str) -> (Option<Cid>, u32) {
    let (mut at, mut descents) = (root, 0);
    for segment in path.split('/') {
        let mut depth = 0;
        loop {
            if at.codec() != 0x70 {
                return (None, descents); // a file where a directory should be
            }
            let node = PbNode::parse(&store[&at]).unwrap();
            match dir_step(&node, segment, depth).unwrap() {
                Next::Found(c) => {
                    at = c;
                    break;
                }
                Next::Descend(c) => {
                    (at, depth, descents) = (c, depth + 1, descents + 1);
                }
                Next::Missing => return (None, descents),
            }
        }
    }
    (Some(at), descents)
}

fn check_ranges(store: &HashMap<Cid, Vec<u8>>, root: Cid, original: &[u8], seed: u64) {
    let len = original.len() as u64;
    assert_eq!(file_size(&root, &store[&root]).unwrap(), len);
    assert_eq!(read_range(store, &root, 0, len), original);
    let mut cases = vec![
        (0, 1),
        (len - 1, len),
        (len - 1, len + 100),
        (len, len + 1),
        (5, 5),
        (7, 3),
        (0, u64::MAX),
    ];
    let mut rng = XorShift(seed);
    for _ in 0..60 {
        let a = rng.below(original.len()) as u64;
        let b = a + rng.below(original.len() / 3 + 1) as u64;
        cases.push((a, b));
    }
    for (start, end) in cases {
        let want =
            &original[(start.min(len) as usize)..(end.min(len).max(start.min(len)) as usize)];
        assert_eq!(read_range(store, &root, start, end), want, "{start}..{end}");
    }
}

#[test]
fn multi_block_file_ranges_match_the_original() {
    let (_, store) = store("big.car");
    let root = cid(BIG);
    let original = content(1, 1_500_000);
    check_ranges(&store, root, &original, 1);
    // Across the 1 MiB chunk boundary ipfs-car cut at.
    let b = 1 << 20;
    assert_eq!(
        read_range(&store, &root, b - 3, b + 3),
        &original[b as usize - 3..b as usize + 3]
    );
    let pieces = file_pieces(&root, &store[&root], b - 3, b + 3).unwrap();
    assert_eq!(pieces.len(), 2);
}

#[test]
fn deep_v0_file_with_dag_pb_leaves_ranges_match() {
    let (_, store) = store("v0deep.car");
    check_ranges(&store, cid(V0DEEP), &content(3, 20_000), 2);
}

#[test]
fn paths_resolve_through_a_directory() {
    let (_, store) = store("dir.car");
    let root = cid(DIR);
    let file = |path: &str| {
        let c = resolve(&store, root, path)
            .0
            .unwrap_or_else(|| panic!("{path}"));
        read_range(&store, &c, 0, u64::MAX)
    };
    assert_eq!(file("a.txt"), b"alpha\n");
    assert_eq!(file("space name.txt"), b"with a space\n");
    assert_eq!(file("sub/c.txt"), b"gamma\n");
    assert_eq!(file("sub/deeper/d.txt"), b"delta\n");
    assert_eq!(file("b.bin"), content(2, 3000));
    assert_eq!(resolve(&store, root, "nope").0, None);
    assert_eq!(resolve(&store, root, "sub/nope").0, None);
    assert_eq!(resolve(&store, root, "A.TXT").0, None);
    // A file is not a directory; a directory is not a file.
    let sub = resolve(&store, root, "sub").0.unwrap();
    let node = PbNode::parse(&store[&sub]).unwrap();
    assert_eq!(UnixFs::of(&node).unwrap().kind, Kind::Directory);
    assert_eq!(
        hamt_step(&node, "c.txt", 0),
        Err(UnixFsError::WrongKind(Kind::Directory))
    );
    assert_eq!(
        file_pieces(&sub, &store[&sub], 0, 10),
        Err(UnixFsError::WrongKind(Kind::Directory))
    );
    let b = resolve(&store, root, "b.bin").0.unwrap();
    if b.codec() == 0x70 {
        let node = PbNode::parse(&store[&b]).unwrap();
        assert!(matches!(
            dir_step(&node, "x", 0),
            Err(UnixFsError::WrongKind(Kind::File))
        ));
    }
}

#[test]
fn every_entry_of_a_hamt_sharded_directory_resolves() {
    let (_, store) = store("hamt.car");
    let root = cid(HAMT);
    let node = PbNode::parse(&store[&root]).unwrap();
    let fs = UnixFs::of(&node).unwrap();
    assert_eq!(fs.kind, Kind::HamtShard);
    assert_eq!((fs.fanout, fs.hash_type), (Some(256), Some(0x22)));
    let mut descents = 0;
    for i in 0..=1000 {
        let name = format!("f{i:04}.txt");
        let (found, d) = resolve(&store, root, &name);
        let c = found.unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            read_range(&store, &c, 0, 100),
            format!("file {i}\n").as_bytes()
        );
        descents += d;
    }
    // 1001 names in 256 buckets collide: ipfs-car made sub-shards, and lookups went through.
    assert!(descents > 100, "{descents}");
    for missing in ["f1001.txt", "", "F0000.txt", "f0000.tx", "f0000.txt/"] {
        assert_eq!(resolve(&store, root, missing).0, None, "{missing:?}");
    }
    // Every entry sits in the bucket its name's hash picks, and no bucket is claimed twice.
    let mut names = 0;
    for (c, bytes) in &store {
        if c.codec() != 0x70 {
            continue;
        }
        let node = PbNode::parse(bytes).unwrap();
        if UnixFs::of(&node).map(|f| f.kind) != Ok(Kind::HamtShard) {
            continue;
        }
        let mut prefixes = std::collections::HashSet::new();
        for link in &node.links {
            let n = link.name.as_deref().unwrap();
            assert!(prefixes.insert(n[..2].to_owned()), "bucket {n} twice");
            names += usize::from(n.len() > 2);
        }
    }
    assert_eq!(names, 1001);
}
