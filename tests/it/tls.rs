//! TLS: a generated CA (rcgen) in a temp dir; the stand-in serving TLS
//! and mutual TLS (embedded and `serve`), our client connecting with
//! `--ca/--cert/--key` or the workload's `client:` keys, and each bad input
//! or mismatch explained in the flags' terms.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tikv_bench::client::{Client, ClientConfig, RequestStats};
use tikv_bench::cluster::config::ClusterConfig;
use tikv_bench::cluster::{Cluster, RunningCluster};
use tikv_bench::vocab::tls::{Tls, TlsFiles};

use crate::client_util::{client_config, cx};
use crate::cluster_util::config;
use crate::util::{bin, stderr, tikv_bench};

/// A CA with server and client certificates it signed, another CA with a
/// client certificate of its own, and a server certificate naming another
/// host: PEM files in a temp dir.
struct Pki {
    dir: tempfile::TempDir,
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    (params, key)
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        for (prefix, ca_name) in [("", "test CA"), ("other-", "other CA")] {
            let (params, key) = ca(ca_name);
            write(
                &format!("{prefix}ca.pem"),
                params.self_signed(&key).unwrap().pem(),
            );
            let issuer = Issuer::new(params, key);
            let leaves: [(&str, &[&str]); 3] = [
                ("server", &["127.0.0.1", "localhost"]),
                ("client", &["tikv-bench-client"]),
                ("elsewhere", &["tikv.example"]),
            ];
            for (leaf, names) in leaves {
                let key = KeyPair::generate().unwrap();
                let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                let params = CertificateParams::new(names).unwrap();
                let cert = params.signed_by(&key, &issuer).unwrap();
                write(&format!("{prefix}{leaf}.pem"), cert.pem());
                write(&format!("{prefix}{leaf}-key.pem"), key.serialize_pem());
            }
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn files(&self, ca: Option<&str>, cert: Option<&str>, key: Option<&str>) -> TlsFiles {
        TlsFiles {
            ca: ca.map(|n| self.path(n)),
            cert: cert.map(|n| self.path(n)),
            key: key.map(|n| self.path(n)),
        }
    }

    /// The stand-in's side: `leaf` certificate, mutual TLS with `ca`.
    fn server(&self, ca: Option<&str>, leaf: &str) -> Tls {
        let (cert, key) = (format!("{leaf}.pem"), format!("{leaf}-key.pem"));
        Tls::server(self.files(ca, Some(&cert), Some(&key)))
            .unwrap()
            .unwrap()
    }

    /// A client's side: `ca`, and `leaf`'s certificate and key if given.
    fn client(&self, ca: &str, leaf: Option<&str>) -> Tls {
        let cert = leaf.map(|l| format!("{l}.pem"));
        let key = leaf.map(|l| format!("{l}-key.pem"));
        Tls::client(self.files(Some(ca), cert.as_deref(), key.as_deref()))
            .unwrap()
            .unwrap()
    }
}

async fn start(tls: Option<Tls>) -> RunningCluster {
    let config = ClusterConfig {
        tls,
        ..config(2, 1_000)
    };
    Cluster::new(config)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("the stand-in starts")
}

/// Connects our client with `tls`; the error's text when it fails.
async fn connect(c: &RunningCluster, tls: Option<Tls>) -> Result<Client, String> {
    let config = ClientConfig {
        tls,
        connect_timeout: Duration::from_secs(2),
        ..client_config()
    };
    Client::connect(&[c.pd_addr().to_string()], config)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_serves_a_client_with_a_certificate_from_the_ca() {
    let pki = Pki::new();
    let c = start(Some(pki.server(Some("ca.pem"), "server"))).await;
    let client = connect(&c, Some(pki.client("ca.pem", Some("client"))))
        .await
        .unwrap();
    let s = RequestStats::default();
    client
        .raw()
        .put(&cx(&s, true), b"k", b"v", None)
        .await
        .unwrap();
    let got = client.raw().get(&cx(&s, false), b"k").await.unwrap();
    assert_eq!(got, Some(b"v".to_vec()));
    assert!(client.pd().leader_url().starts_with("https://"));
    drop(client);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_a_client_without_a_certificate_or_with_a_strange_one() {
    let pki = Pki::new();
    let c = start(Some(pki.server(Some("ca.pem"), "server"))).await;
    // The server's alert (certificate required, or unknown CA) usually
    // reaches the client; when the connection's end overtakes it, the
    // client can only say that the server hung up after the handshake.
    let refused = [
        "the server refused the client's certificate",
        "after the TLS handshake",
    ];
    let e = connect(&c, Some(pki.client("ca.pem", None)))
        .await
        .unwrap_err();
    assert!(refused.iter().any(|r| e.contains(r)), "{e}");
    assert!(e.contains("give --cert and --key"), "{e}");
    let e = connect(&c, Some(pki.client("ca.pem", Some("other-client"))))
        .await
        .unwrap_err();
    assert!(refused.iter().any(|r| e.contains(r)), "{e}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_only_tls_serves_a_client_with_the_ca_alone() {
    let pki = Pki::new();
    let c = start(Some(pki.server(None, "server"))).await;
    let client = connect(&c, Some(pki.client("ca.pem", None))).await.unwrap();
    let s = RequestStats::default();
    client
        .raw()
        .put(&cx(&s, true), b"k", b"v", None)
        .await
        .unwrap();
    drop(client);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mismatch_between_client_and_server_is_explained() {
    let pki = Pki::new();
    let plain = start(None).await;
    let e = connect(&plain, Some(pki.client("ca.pem", None)))
        .await
        .unwrap_err();
    assert!(
        e.contains("answered in plaintext, not TLS: drop --ca, or point at the TLS port"),
        "{e}"
    );
    plain.shutdown().await;

    let tls = start(Some(pki.server(None, "server"))).await;
    let e = connect(&tls, None).await.unwrap_err();
    assert!(e.contains("expects TLS: give --ca"), "{e}");
    let e = connect(&tls, Some(pki.client("other-ca.pem", None)))
        .await
        .unwrap_err();
    assert!(e.contains("not signed by the CA given (--ca)"), "{e}");
    tls.shutdown().await;

    let elsewhere = start(Some(pki.server(None, "elsewhere"))).await;
    let e = connect(&elsewhere, Some(pki.client("ca.pem", None)))
        .await
        .unwrap_err();
    assert!(
        e.contains("certificate is not valid for 127.0.0.1: it names tikv.example"),
        "{e}"
    );
    elsewhere.shutdown().await;
}

/// A workload with TLS in `client:` and `cluster:` (paths relative to the
/// workload file).
fn tls_workload(pki: &Pki, extra: &str) -> PathBuf {
    let yaml = format!(
        "name: tls\n\
         keys: {{records: 200}}\n\
         concurrency: 2\n\
         ops:\n  - {{name: read, type: get, weight: 1}}\n  - {{name: write, type: put, weight: 1}}\n\
         {extra}"
    );
    let path = pki.path("w.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

const MUTUAL: &str = "client: {ca: ca.pem, cert: client.pem, key: client-key.pem}\n\
                      cluster: {ca: ca.pem, cert: server.pem, key: server-key.pem}\n";

fn run_args<'a>(workload: &'a Path, out: &'a Path) -> Vec<&'a str> {
    let mut args = vec!["run", workload.to_str().unwrap()];
    args.extend(["--duration", "500ms", "--warmup", "0s", "--progress", "off"]);
    args.extend(["--no-report", "--out", out.to_str().unwrap()]);
    args
}

fn measured_ops(out: &Path) -> u64 {
    let text = std::fs::read_to_string(out.join("result.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        !text.contains("PRIVATE KEY"),
        "no key material in the result"
    );
    assert_eq!(
        r["workload"]["client"]["tls"]["ca"]
            .as_str()
            .map(|p| p.ends_with("ca.pem")),
        Some(true),
        "{}",
        r["workload"]["client"]
    );
    r["measured"]["ops"].as_u64().unwrap()
}

#[test]
fn a_mutual_tls_workload_runs_on_the_embedded_stand_in() {
    let pki = Pki::new();
    // Run from elsewhere: the paths are the workload file's.
    let w = tls_workload(&pki, MUTUAL);
    let out = pki.path("out");
    let o = tikv_bench(&run_args(&w, &out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(measured_ops(&out) > 0);
}

#[test]
fn bad_tls_files_in_a_workload_are_pointed_at() {
    let pki = Pki::new();
    std::fs::write(pki.path("notes.txt"), "not a certificate\n").unwrap();
    for (extra, says) in [
        (
            "client: {ca: missing.pem}\n",
            "w.yaml:7:14: client.ca file ",
        ),
        (
            "client: {ca: notes.txt}\n",
            "notes.txt: holds no PEM certificate",
        ),
        (
            "client: {ca: ca.pem, cert: client.pem}\n",
            "w.yaml:7:28: client.cert given without key",
        ),
        (
            "client: {ca: ca.pem, cert: client.pem, key: client.pem}\n",
            "client-key.pem",
        ),
        (
            "cluster: {cert: server.pem, key: server-key.pem}\n",
            "the client: section gives no ca",
        ),
        (
            "client: {ca: ca.pem}\ncluster: {ca: ca.pem, cert: server.pem, key: server-key.pem}\n",
            "the client: section gives no cert and key",
        ),
    ] {
        let w = tls_workload(&pki, extra);
        let out = pki.path("out");
        let o = tikv_bench(&run_args(&w, &out));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra}: {err}");
        if says == "client-key.pem" {
            assert!(
                err.contains("client.key file") && err.contains("holds no PEM private key"),
                "{extra}: {err}"
            );
        } else {
            assert!(err.contains(says), "{extra}: {err}");
        }
        assert!(!out.exists(), "{extra}: refused before the run");
    }
}

#[test]
fn bad_tls_flags_exit_2_naming_the_flag() {
    let pki = Pki::new();
    std::fs::write(pki.path("notes.txt"), "not a certificate\n").unwrap();
    let w = tls_workload(&pki, "");
    let out = pki.path("out");
    let p = |n: &str| pki.path(n).to_str().unwrap().to_string();
    let cases: [(Vec<String>, &str); 5] = [
        (vec!["--ca".into(), p("missing.pem")], "--ca "),
        (vec!["--ca".into(), p("notes.txt")], "--ca: ca file"),
        (
            vec!["--ca".into(), p("ca.pem"), "--cert".into(), p("client.pem")],
            "--cert given without --key",
        ),
        (
            vec![
                "--ca".into(),
                p("ca.pem"),
                "--cert".into(),
                p("client.pem"),
                "--key".into(),
                p("notes.txt"),
            ],
            "holds no PEM private key",
        ),
        (
            vec![
                "--cert".into(),
                p("client.pem"),
                "--key".into(),
                p("client-key.pem"),
            ],
            "given without --ca",
        ),
    ];
    for (flags, says) in cases {
        let mut args = run_args(&w, &out);
        args.extend(["--pd", "127.0.0.1:1"]);
        args.extend(flags.iter().map(String::as_str));
        let o = tikv_bench(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
        if says == "--ca " {
            assert!(err.contains("missing.pem: cannot read it"), "{err}");
        }
    }
    let o = Command::new(bin())
        .args(["serve", "--ca", &p("ca.pem")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--ca given without --cert and --key"),
        "{}",
        stderr(&o)
    );
}

/// `serve --ca --cert --key`, then `run --pd ... --ca --cert --key` against
/// it; and `run` without a client certificate is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_mutual_tls_and_run_against_it() {
    let pki = Pki::new();
    let mut child = Command::new(bin())
        .args(["serve", "--stores", "2", "--ca"])
        .arg(pki.path("ca.pem"))
        .arg("--cert")
        .arg(pki.path("server.pem"))
        .arg("--key")
        .arg(pki.path("server-key.pem"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().unwrap();
    // The reader is kept until serve ends: it writes more lines.
    let first = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).map(|_| (line, reader))
    });
    let (first, reader) = tokio::time::timeout(Duration::from_secs(20), first)
        .await
        .expect("serve prints its address")
        .unwrap()
        .unwrap();
    let pd = first.trim().strip_prefix("pd=").unwrap().to_string();

    let w = tls_workload(&pki, "");
    let runs = tokio::task::spawn_blocking({
        let (w, pki_dir, pd) = (w.clone(), pki.dir.path().to_path_buf(), pd.clone());
        move || {
            let flag = |n: &str| pki_dir.join(n).to_str().unwrap().to_string();
            let out = pki_dir.join("out-mutual");
            let mut args = run_args(&w, &out);
            let (ca, cert, key) = (flag("ca.pem"), flag("client.pem"), flag("client-key.pem"));
            args.extend(["--pd", &pd, "--ca", &ca, "--cert", &cert, "--key", &key]);
            let mutual = tikv_bench(&args);
            let ops = mutual.status.success().then(|| measured_ops(&out));
            let out = pki_dir.join("out-no-cert");
            let mut args = run_args(&w, &out);
            args.extend(["--pd", &pd, "--ca", &ca]);
            (mutual, ops, tikv_bench(&args))
        }
    })
    .await
    .unwrap();

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let served = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    drop(reader);
    assert!(served.status.success(), "serve: {}", stderr(&served));

    let (mutual, ops, no_cert) = runs;
    assert!(mutual.status.success(), "{}", stderr(&mutual));
    assert!(ops.unwrap() > 0);
    assert_eq!(no_cert.status.code(), Some(1), "{}", stderr(&no_cert));
    assert!(
        stderr(&no_cert).contains("give --cert and --key"),
        "{}",
        stderr(&no_cert)
    );
}
