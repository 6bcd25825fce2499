//! An axum app that behaves like beaker-session-jwt's own test app (`simple_app` in its
//! `test.py`), on the crate's tower layer:
//!
//! * `GET /` increments `value` in the session, sets `example_date` to a datetime
//!   (2023-05-05, as the reference app does), saves, and answers
//!   `The current value is: N`;
//! * `GET /session` shows the decoded session as JSON (canonical Extended JSON, as the
//!   reference's tools print sessions);
//! * `GET /metrics` shows the rotation and migration counters.
//!
//! ```text
//! cargo run --example demo --features axum -- [--config FILE] [--section NAME] [--listen ADDR]
//! ```
//!
//! Options come from the app's ini file (`--config`, section `app:main` unless
//! `--section`), as the CLI and the Python app read them; without `--config` the demo
//! runs on an embedded default configuration and says so. It listens on `--listen`
//! (default `127.0.0.1:8080`; port 0 picks a free port) and prints
//! `listening on http://ADDR` once the socket is bound.

use std::process::ExitCode;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use beaker_session_jwt::bson::{Bson, DateTime};
use beaker_session_jwt::middleware::{SessionHandle, SessionLayer};
use beaker_session_jwt::{BeakerOptions, SessionConfig, ejson};

/// Used when no --config is given. The key is public: for trying the demo only.
const DEFAULT_INI: &str = "\
[app:main]
session.jwt_secret_keys = demo-only-key-do-not-use-in-production
session.httponly = true
session.samesite = Lax
";

const USAGE: &str = "usage: demo [--config FILE] [--section NAME] [--listen ADDR]";

struct Args {
    config: Option<String>,
    section: String,
    listen: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        config: None,
        section: "app:main".into(),
        listen: "127.0.0.1:8080".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--config" => args.config = Some(value("--config")?),
            "--section" => args.section = value("--section")?,
            "--listen" => args.listen = value("--listen")?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn load_options(args: &Args) -> beaker_session_jwt::Result<BeakerOptions> {
    match &args.config {
        Some(path) => {
            eprintln!("demo: options from {path} [{}]", args.section);
            BeakerOptions::from_ini_file(path, &args.section)
        }
        None => {
            eprintln!(
                "demo: no --config given: running on the embedded default configuration \
                 (a public demo key; do not use it in production)"
            );
            BeakerOptions::from_ini_str(DEFAULT_INI, "app:main")
        }
    }
}

/// `session['value'] += 1`, with Python's int: stored as int32 while it fits, as
/// pymongo's BSON encoder does, so both sides of a fleet write the same type.
fn next_value(current: Option<&Bson>) -> i64 {
    let n = match current {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        _ => 0,
    };
    n.saturating_add(1)
}

fn python_int(n: i64) -> Bson {
    i32::try_from(n).map_or(Bson::Int64(n), Bson::Int32)
}

async fn index(session: SessionHandle) -> String {
    let mut s = session.lock();
    let value = next_value(s.get("value"));
    s.insert("value", python_int(value));
    // datetime(2023, 5, 5): BSON and pickle carry it, JSON cannot
    s.insert("example_date", DateTime::from_millis(1_683_244_800_000));
    s.save();
    format!("The current value is: {value}")
}

/// The session as canonical Extended JSON, the way the Python reference tools print
/// it (`bson.json_util`), so the two sides of a fleet can be compared as text.
async fn show_session(session: SessionHandle) -> impl IntoResponse {
    let text = ejson::to_canonical_string(session.lock().document());
    ([(header::CONTENT_TYPE, "application/json")], text)
}

async fn metrics(State(config): State<SessionConfig>) -> Json<serde_json::Value> {
    let m = config.metrics().snapshot();
    Json(serde_json::json!({
        "by_key": m.by_key,
        "jwt": m.jwt,
        "original": m.original,
        "original_encrypted": m.original_encrypted,
        "no_cookie": m.no_cookie,
        "invalidated": m.invalidated,
        "timed_out": m.timed_out,
        "reissued": m.reissued,
        "rejected": m.rejected,
        "old_keys_unused": m.old_keys_unused(),
        "original_format_unused": m.original_format_unused(),
    }))
}

/// Prints the layer's warnings (rejected cookies) and errors to stderr. A real app
/// would use `tracing-subscriber`; this keeps the demo free of extra dependencies.
struct StderrLog;

impl tracing::Subscriber for StderrLog {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Line(String);
        impl tracing::field::Visit for Line {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0.push_str(&format!(" {value:?}"));
                } else {
                    self.0.push_str(&format!(" {}={value:?}", field.name()));
                }
            }
        }
        let mut line = Line(format!("demo: {}", event.metadata().level()));
        event.record(&mut line);
        eprintln!("{}", line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The demo's routes on a session configuration.
fn app(config: SessionConfig) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/session", get(show_session))
        .route("/metrics", get(metrics))
        .with_state(config.clone())
        .layer(SessionLayer::new(config))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // only fails if a global subscriber is already set, which cannot happen here
    let _ = tracing::subscriber::set_global_default(StderrLog);
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let config = match load_options(&args).and_then(|o| {
        for name in o.unknown_options() {
            eprintln!("demo: ignoring option {name} (not a session option of this crate)");
        }
        SessionConfig::from_options(&o)
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("demo: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    match listener.local_addr() {
        // the test harnesses read this line to find the port
        Ok(addr) => println!("listening on http://{addr}"),
        Err(e) => eprintln!("demo: {e}"),
    }
    if let Err(e) = axum::serve(listener, app(config)).await {
        eprintln!("demo: server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
