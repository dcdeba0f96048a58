//! What a browser gets, and who may read: settings, credentials, unpinned content, CORS.

use crate::*;

#[test]
fn file_bytes_and_ranges() {
    let big = keep("big.car", BIG, 2, Status::Pinned);
    let file = content(1, 1_500_000);
    let (r, body) = ask(
        &big,
        "GET",
        &format!("/ipfs/{BIG}"),
        &[("accept", "text/html,*/*")],
    );
    assert_eq!((r.status, body == file), (200, true));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let (r, body) = ask(
        &big,
        "GET",
        &format!("/ipfs/{BIG}"),
        &[("range", "bytes=1048570-1048590")],
    );
    assert_eq!((r.status, &body[..]), (206, &file[1_048_570..1_048_591]));
    let (r, _) = ask(
        &big,
        "GET",
        &format!("/ipfs/{BIG}?filename=r%C3%A9sum%C3%A9.pdf"),
        &[],
    );
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    let cd = r.header("content-disposition").unwrap();
    assert!(
        cd.starts_with("attachment; filename=\"r_sum_.pdf\"")
            && cd.contains("r%C3%A9sum%C3%A9.pdf"),
        "{cd}"
    );
    let deep = keep("v0deep.car", V0DEEP, 1, Status::Pinned);
    let (_, body) = ask(&deep, "GET", &format!("/ipfs/{V0DEEP}"), &[]);
    assert_eq!(body, content(3, 20_000), "dag-pb leaves, three levels");
    let (_, body) = ask(
        &deep,
        "GET",
        &format!("/ipfs/{V0DEEP}"),
        &[("range", "bytes=1000-4999")],
    );
    assert_eq!(body, content(3, 20_000)[1000..5000]);
    let tiny = keep("tiny.car", TINY, 1, Status::Pinned);
    let (_, body) = ask(
        &tiny,
        "GET",
        &format!("/ipfs/{TINY}?filename=hello.txt"),
        &[],
    );
    assert_eq!(body, b"hello world\n");
}

#[test]
fn directories_paths_listings_and_hamt() {
    let dir = keep("dir.car", DIR, 1, Status::Pinned);
    let (r, _) = ask(&dir, "GET", &format!("/ipfs/{DIR}"), &[]);
    assert_eq!(
        (r.status, r.header("location")),
        (301, Some(format!("/ipfs/{DIR}/").as_str()))
    );
    let (r, html) = ask(&dir, "GET", &format!("/ipfs/{DIR}/"), &[]);
    let html = String::from_utf8(html).unwrap();
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        html.contains(&format!(
            "href=\"/ipfs/{DIR}/space%20name.txt\">space name.txt</a>"
        )),
        "{html}"
    );
    let (r, body) = ask(&dir, "GET", &format!("/ipfs/{DIR}/space%20name.txt"), &[]);
    assert_eq!((r.status, &body[..]), (200, &b"with a space\n"[..]));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let (_, body) = ask(&dir, "GET", &format!("/ipfs/{DIR}/sub/deeper/d.txt"), &[]);
    assert_eq!(body, b"delta\n");
    let (_, body) = ask(&dir, "GET", &format!("/ipfs/{DIR}/b.bin"), &[]);
    assert_eq!(body, content(2, 3000));
    let (r, _) = ask(&dir, "GET", &format!("/ipfs/{DIR}/missing.txt"), &[]);
    assert_eq!(r.status, 404);

    let hamt = keep("hamt.car", HAMT, 3, Status::Pinned);
    for n in [0, 500, 999, 1000] {
        let (r, body) = ask(&hamt, "GET", &format!("/ipfs/{HAMT}/f{n:04}.txt"), &[]);
        assert_eq!((r.status, body), (200, format!("file {n}\n").into_bytes()));
    }
    let (r, _) = ask(&hamt, "GET", &format!("/ipfs/{HAMT}/f1001.txt"), &[]);
    assert_eq!(r.status, 404);
    let (_, html) = ask(&hamt, "GET", &format!("/ipfs/{HAMT}/"), &[]);
    let html = String::from_utf8(html).unwrap();
    assert_eq!(
        html.matches("<li>").count(),
        1001,
        "every entry of the shards"
    );
    assert!(html.contains(">f0000.txt</a>") && html.contains(">f1000.txt</a>"));
}

#[test]
fn only_pinned_dags_and_only_when_the_setting_allows() {
    let target = format!("/ipfs/{BIG}?format=raw");
    let kv = MemoryKv::new(10);
    for status in [Status::Pinning, Status::Failed, Status::Queued] {
        let kept = keep("big.car", BIG, 1, status);
        let (r, body) = ask(&kept, "GET", &target, &[]);
        assert_eq!(r.status, 404, "{status:?}");
        assert!(String::from_utf8(body).unwrap().contains("\"NOT_FOUND\""));
    }
    let kept = keep("big.car", BIG, 1, Status::Pinned);
    let (r, _) = ask(&kept, "GET", &format!("/ipfs/{DIR}"), &[]);
    assert_eq!(r.status, 404, "nothing kept of that CID");
    for (gateway, backend) in [("off", "r2"), ("public", "instant")] {
        let (r, _) = ask_with(&kept, &config(gateway, backend), &kv, "GET", &target, &[]);
        assert_eq!(r.status, 404, "{gateway} {backend}");
    }
    let private = config("private", "r2");
    let (r, _) = ask_with(&kept, &private, &kv, "GET", &target, &[]);
    assert_eq!(r.status, 401);
    let alice = [("authorization", common::basic("alice"))];
    let alice: Vec<(&str, &str)> = alice.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, _) = ask_with(&kept, &private, &kv, "GET", &target, &alice);
    assert_eq!(r.status, 404, "alice holds no pin of it yet");
    let v1 = cid(BIG).to_string();
    kv.map.borrow_mut().insert(
        format!("c/alice/{v1}/r1"),
        (String::new(), serde_json::Value::Null),
    );
    let (r, _) = ask_with(&kept, &private, &kv, "GET", &target, &alice);
    assert_eq!(r.status, 200);
    let bob = common::basic("bob");
    let (r, _) = ask_with(
        &kept,
        &private,
        &kv,
        "GET",
        &target,
        &[("authorization", &bob)],
    );
    assert_eq!(r.status, 404, "bob's view: as if nothing were kept");
}

#[test]
fn cors_preflight_and_methods() {
    let kept = keep("tiny.car", TINY, 1, Status::Pinned);
    let (r, _) = ask(&kept, "OPTIONS", &format!("/ipfs/{TINY}"), &[]);
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert!(r
        .header("access-control-allow-headers")
        .unwrap()
        .contains("Range"));
    let (r, _) = ask(&kept, "POST", &format!("/ipfs/{TINY}"), &[]);
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some("GET, HEAD, OPTIONS"))
    );
    let (r, _) = ask(&kept, "GET", &format!("/ipfs/{TINY}"), &[]);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("X-Ipfs-Roots"));
    let (r, _) = ask(&kept, "GET", "/ipfs/not-a-cid", &[]);
    assert_eq!(r.status, 400);
    let (r, _) = ask(&kept, "GET", &format!("/ipfs/{TINY}?format=tar"), &[]);
    assert_eq!(r.status, 400);
}
