//! Replicas: service processes (the real binary) on one real PostgreSQL database, as
//! behind a load balancer. What one replica accepted or issued, every other knows.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{AUDIT_SALT, cards_dir, scenario};
use crate::keys::{ISSUER, PUBLIC_URL, issuer_keys, jwks};
use crate::pg::Cluster;

const HOOK_PATH: &str = "/cds-services/omalizumab-order-sign";
const FEEDBACK_PATH: &str = "/cds-services/omalizumab-order-sign/feedback";

fn binary() -> String {
    std::env::var("OMALIZUMAB_CDS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_omalizumab-cds").into())
}

/// The environment every replica shares: the database, the salt, the issuer's keys.
fn shared_env(cluster: &Cluster, jwks_file: &std::path::Path) -> Vec<(String, String)> {
    [
        ("CDS_STORE_URL", cluster.url()),
        ("CDS_STORE_TIMEOUT_MS", "500".into()),
        ("CDS_AUDIT_SALT", AUDIT_SALT.into()),
        ("CDS_PUBLIC_URL", PUBLIC_URL.into()),
        (
            "CDS_JWT_ISSUERS",
            format!("{ISSUER}={}", url::Url::from_file_path(jwks_file).unwrap()),
        ),
        ("CDS_CARDS_DIR", cards_dir().display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

struct Replica {
    child: Child,
    base: String,
    /// Everything it has logged so far (read by a thread, so the pipe never fills).
    log: Arc<Mutex<String>>,
}

impl Replica {
    fn start(env: &[(String, String)], extra: &[(&str, &str)]) -> Replica {
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .env("CDS_BIND", "127.0.0.1:0")
            .env("CDS_LOG_FORMAT", "json")
            .env("CDS_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let log = Arc::new(Mutex::new(String::new()));
        let port = loop {
            let mut line = String::new();
            let read = stdout.read_line(&mut line).unwrap();
            assert!(read > 0, "replica exited: {}", log.lock().unwrap());
            log.lock().unwrap().push_str(&line);
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "omalizumab-cds listening"
            {
                break v["port"].as_u64().unwrap();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
            }
        });
        Replica {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = reqwest::Client::new().post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A hook with a fresh token of its own.
    async fn hook(&self, body: &Value) -> (u16, Value) {
        let token = issuer_keys().es384.token_for(HOOK_PATH);
        self.post(HOOK_PATH, Some(&token), body).await
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    fn logged(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `omalizumab-cds report` with `env`: per kind (cards, accepted, overridden).
fn report(env: &[(String, String)]) -> Vec<(String, u64, u64, u64)> {
    let out = Command::new(binary())
        .arg("report")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with('('))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

fn totals(rows: &[(String, u64, u64, u64)]) -> (u64, u64, u64) {
    rows.iter().fold((0, 0, 0), |(c, a, o), r| (c + r.1, a + r.2, o + r.3))
}

fn keys_file() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let keys = issuer_keys();
    std::fs::write(file.path(), jwks(&[&keys.es384, &keys.rs384]).to_string()).unwrap();
    file
}

fn hook_body() -> Value {
    let s = scenario("asthma-adult-dose-mismatch");
    let mut body = s.order_sign(Some(s.prefetch()), None);
    body["hookInstance"] = json!(uuid::Uuid::new_v4().to_string());
    body
}

#[tokio::test]
async fn three_replicas_share_replay_memory_issued_cards_and_the_report() {
    let Some(cluster) = Cluster::start("three_replicas_share_replay_memory_issued_cards_and_the_report") else {
        return;
    };
    let keys = keys_file();
    let env = shared_env(&cluster, keys.path());
    let [a, b, c] = [0, 1, 2].map(|_| Replica::start(&env, &[]));

    // A captured token is good once, whichever replica the balancer sends it to.
    let token = issuer_keys().es384.token_for(HOOK_PATH);
    let (status, answer) = a.post(HOOK_PATH, Some(&token), &hook_body()).await;
    assert_eq!(status, 200, "{answer}");
    for replica in [&b, &c] {
        let (status, _) = replica.post(HOOK_PATH, Some(&token), &hook_body()).await;
        assert_eq!(status, 401, "a replay to another replica");
    }
    assert!(b.logged().contains("replayed-jti"), "{}", b.logged());

    // Feedback for A's card, posted to B and then (an EHR retrying) to C: accepted by
    // both, counted once.
    let cards = answer["cards"].as_array().unwrap();
    let card = &cards[0];
    let body = json!({"feedback": [{"card": card["uuid"], "outcome": "overridden",
        "overrideReason": {"reason": card["overrideReasons"][0]},
        "outcomeTimestamp": "2026-11-23T10:15:00Z"}]});
    for replica in [&b, &c] {
        let token = issuer_keys().es384.token_for(FEEDBACK_PATH);
        let (status, v) = replica.post(FEEDBACK_PATH, Some(&token), &body).await;
        assert_eq!(status, 200, "{v}");
    }
    // A card no replica issued is still refused by all.
    let forged = json!({"feedback": [{"card": "00000000-0000-4000-8000-000000000000", "outcome": "accepted",
        "outcomeTimestamp": "2026-11-23T10:15:00Z"}]});
    let token = issuer_keys().es384.token_for(FEEDBACK_PATH);
    assert_eq!(c.post(FEEDBACK_PATH, Some(&token), &forged).await.0, 400);

    // The report is the shared store's: the same whichever replica's settings run it.
    let from_a = report(&env);
    let from_c = report(&env);
    assert_eq!(from_a, from_c);
    assert_eq!(totals(&from_a), (cards.len() as u64, 0, 1), "{from_a:?}");
    drop((a, b, c));
}

/// Fail closed while the database is down, and lose no decision: an authenticated
/// replica answers 503 (its replay check needs the database) and is not ready; a
/// development replica (no authentication) keeps answering, its decisions wait in its
/// queue and are in the store once the database is back.
#[tokio::test]
async fn a_database_outage_fails_closed_and_loses_no_decision() {
    let Some(cluster) = Cluster::start("a_database_outage_fails_closed_and_loses_no_decision") else {
        return;
    };
    let keys = keys_file();
    let env = shared_env(&cluster, keys.path());
    let a = Replica::start(&env, &[]);
    let dev = Replica::start(&env, &[("CDS_AUTH", "none")]);
    assert_eq!(a.get("/readyz").await.0, 200);
    let (status, before) = a.hook(&hook_body()).await;
    assert_eq!(status, 200);
    let per_hook = before["cards"].as_array().unwrap().len() as u64;

    cluster.stop();
    let (status, ready) = a.get("/readyz").await;
    assert_eq!((status, ready.contains("store unreachable")), (503, true), "{ready}");
    let (status, refused) = a.hook(&hook_body()).await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["issue"][0]["details"]["coding"][0]["code"], "store-unavailable");
    for _ in 0..3 {
        assert_eq!(dev.post(HOOK_PATH, None, &hook_body()).await.0, 200);
    }
    let (_, metrics) = dev.get("/metrics").await;
    assert!(
        metrics.contains("omalizumab_cds_audit_decisions_pending 3"),
        "{metrics}"
    );

    cluster.resume();
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.get("/readyz").await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "not ready again after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.hook(&hook_body()).await.0, 200, "authenticated hooks work again");
    let expected = 5 * per_hook;
    loop {
        let (cards, _, _) = totals(&report(&env));
        if cards == expected {
            break;
        }
        assert!(Instant::now() < deadline, "{cards} cards of {expected} in the store");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, metrics) = dev.get("/metrics").await;
    assert!(
        metrics.contains("omalizumab_cds_audit_decisions_pending 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("omalizumab_cds_audit_decisions_unwritten_total 0"),
        "{metrics}"
    );
    let log = dev.logged();
    assert!(log.contains("decisions wait in the queue"), "{log}");
    assert!(log.contains("reachable again"), "{log}");
}

/// Latency percentiles in ms and hooks a second of one run.
struct Run {
    p50: f64,
    p99: f64,
    mean: f64,
    per_second: f64,
}

/// `total` hooks, each with its own token, from `concurrency` clients, spread over
/// `replicas` in turn.
async fn load(replicas: &[&Replica], total: usize, concurrency: usize) -> Run {
    let body = Arc::new(serde_json::to_vec(&hook_body()).unwrap());
    // Tokens are signed before the clock starts: only the service is timed.
    let tokens: Vec<String> = (0..total).map(|_| issuer_keys().es384.token_for(HOOK_PATH)).collect();
    let urls: Vec<String> = replicas.iter().map(|r| format!("{}{HOOK_PATH}", r.base)).collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let mine: Vec<(String, String)> = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| i % concurrency == worker)
            .map(|(i, t)| (urls[i % urls.len()].clone(), t.clone()))
            .collect();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut took = Vec::with_capacity(mine.len());
            for (url, token) in mine {
                let at = Instant::now();
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body.as_ref().clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
                took.push(at.elapsed().as_secs_f64() * 1000.0);
            }
            took
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Run {
        p50: at(0.50),
        p99: at(0.99),
        mean: all.iter().sum::<f64>() / all.len() as f64,
        per_second: all.len() as f64 / elapsed,
    }
}

/// The figures in docs/DEPLOY.md: what the shared replay check costs a hook. Not a test
/// (it times nothing it asserts on); run it against the release binary:
/// `cargo build --release && OMALIZUMAB_CDS_BIN=target/release/omalizumab-cds
///  cargo test --test api replicas::measure -- --ignored --nocapture`
#[tokio::test]
#[ignore = "a measurement: run by hand against the release binary (docs/DEPLOY.md)"]
async fn measure_what_the_shared_replay_check_adds_to_a_hook() {
    // fsync on, as in production: each replay insert commits to disk.
    let Some(cluster) = Cluster::start_with("measure_what_the_shared_replay_check_adds_to_a_hook", true) else {
        return;
    };
    let keys = keys_file();
    let env = shared_env(&cluster, keys.path());
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite_env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("CDS_STORE_"))
        .cloned()
        .chain([(
            "CDS_STORE_PATH".to_string(),
            sqlite_dir.path().join("audit.sqlite").display().to_string(),
        )])
        .collect();
    let quiet = [("CDS_LOG", "warn,omalizumab_cds::startup=info,omalizumab_cds::cli=info")];
    let one = Replica::start(&sqlite_env, &quiet);
    let (a, b) = (Replica::start(&env, &quiet), Replica::start(&env, &quiet));
    let n: usize = std::env::var("CDS_MEASURE_HOOKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    println!("| store, replay memory | clients | hooks | p50 ms | p99 ms | mean ms | hooks/s |");
    println!("|---|---|---|---|---|---|---|");
    for concurrency in [1, 8] {
        for (name, replicas) in [
            ("SQLite, in-process (1 replica)", vec![&one]),
            ("PostgreSQL, shared (2 replicas)", vec![&a, &b]),
        ] {
            load(&replicas, 400, concurrency).await;
            let r = load(&replicas, n, concurrency).await;
            println!(
                "| {name} | {concurrency} | {n} | {:.2} | {:.2} | {:.2} | {:.0} |",
                r.p50, r.p99, r.mean, r.per_second
            );
        }
    }
}

/// A replica killed while it takes feedback loses nothing it acknowledged: each item is
/// in the database before its 200. The EHR retries the unacknowledged ones at another
/// replica, and each card is still counted once.
#[tokio::test]
async fn killing_a_replica_mid_load_loses_no_acknowledged_feedback() {
    let Some(cluster) = Cluster::start("killing_a_replica_mid_load_loses_no_acknowledged_feedback") else {
        return;
    };
    let keys = keys_file();
    let env = shared_env(&cluster, keys.path());
    let (a, b) = (Replica::start(&env, &[]), Replica::start(&env, &[]));
    let mut items = Vec::new();
    for _ in 0..30 {
        let (status, answer) = a.hook(&hook_body()).await;
        assert_eq!(status, 200);
        let card = &answer["cards"][0];
        items.push(json!({"feedback": [{"card": card["uuid"], "outcome": "overridden",
            "overrideReason": {"reason": card["overrideReasons"][0]},
            "outcomeTimestamp": "2026-11-23T10:15:00Z"}]}));
    }
    let cards_before = totals(&report(&env)).0;
    let b_url = format!("{}{FEEDBACK_PATH}", b.base);
    let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent: Vec<_> = items
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, body)| {
            let (url, acks) = (b_url.clone(), acks.clone());
            tokio::spawn(async move {
                // Spread out, so the kill falls among them.
                tokio::time::sleep(Duration::from_millis(i as u64 * 10)).await;
                let token = issuer_keys().es384.token_for(FEEDBACK_PATH);
                let response = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await;
                let ok = matches!(response, Ok(r) if r.status() == 200);
                if ok {
                    acks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                ok
            })
        })
        .collect();
    // Killed once a few items are acknowledged, whatever the machine's speed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "replica B acknowledged no feedback");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let killed = Command::new("kill")
        .args(["-9", &b.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut acknowledged = Vec::new();
    for (item, task) in items.iter().zip(sent) {
        if task.await.unwrap() {
            acknowledged.push(item.clone());
        }
    }
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < items.len(),
        "the kill should fall mid-load: {} of {} acknowledged",
        acknowledged.len(),
        items.len()
    );
    let (_, _, overridden) = totals(&report(&env));
    assert!(
        overridden as usize >= acknowledged.len(),
        "{overridden} stored, {} acknowledged",
        acknowledged.len()
    );
    // The EHR sends everything again, to the replica still up: each card counted once.
    for body in &items {
        let token = issuer_keys().es384.token_for(FEEDBACK_PATH);
        assert_eq!(a.post(FEEDBACK_PATH, Some(&token), body).await.0, 200);
    }
    let (cards, _, overridden) = totals(&report(&env));
    assert_eq!((cards, overridden), (cards_before, items.len() as u64));
}
