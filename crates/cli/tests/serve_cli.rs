//! `renkou serve`'s HTTPS flags through the binary: one of `--tls-cert` and `--tls-key` without
//! the other is a usage error (exit code 2) naming the missing flag; a file that cannot be read
//! or holds no PEM certificate or key ends the command (exit code 1) with a message naming the
//! file, before the database is opened or an address bound.

mod common;

use common::*;

#[test]
fn one_tls_flag_without_the_other_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let pem = dir.path().join("x.pem");
    let o = renkou(&["serve", "--db", s(&db), "--addr", "127.0.0.1:0", "--tls-cert", s(&pem)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--tls-key"), "{}", stderr(&o));
    let o = renkou(&["serve", "--db", s(&db), "--addr", "127.0.0.1:0", "--tls-key", s(&pem)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--tls-cert"), "{}", stderr(&o));
    assert!(!db.exists(), "no database is made");
}

#[test]
fn bad_pem_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let bad = dir.path().join("bad-cert.pem");
    std::fs::write(&bad, "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n").unwrap();
    let no_key = dir.path().join("no-key.pem");
    std::fs::write(&no_key, "hello\n").unwrap();
    let missing = dir.path().join("missing-key.pem");

    for (c, k, named) in [(&bad, &key, "bad-cert.pem"), (&cert, &no_key, "no-key.pem"), (&cert, &missing, "missing-key.pem")] {
        let o = renkou(&["serve", "--db", s(&db), "--addr", "127.0.0.1:0", "--tls-cert", s(c), "--tls-key", s(k)]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("错误 (error)") && e.contains(named), "{named}: {e}");
    }
    assert!(!db.exists(), "no database is made");
}
