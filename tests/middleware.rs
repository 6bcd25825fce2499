//! The tower layer in memory (`tower::ServiceExt::oneshot`, no sockets), on cookies
//! the real Python reference wrote (`testdata/fleet/cookies.json`, made by
//! `scripts/gen_fleet_fixtures.py` with Beaker's `CookieSession` and
//! beaker-session-jwt's `JWTCookieSession`).
//!
//! The handler is the reference's test app: it increments `value`, sets
//! `example_date` and saves. Signatures of the cookies the layer writes are checked
//! with HMAC-SHA256 directly, not through the crate.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use beaker_session_jwt::bson::{Bson, DateTime};
use beaker_session_jwt::middleware::{RejectedCookie, SessionHandle, SessionLayer};
use beaker_session_jwt::{BeakerOptions, CookieFormat, SessionConfig};
use hmac::{Hmac, Mac};
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response, StatusCode};
use serde_json::Value;
use sha2::Sha256;
use tower::{Layer, ServiceExt, service_fn};

const JWT_HEADER: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.";

fn fixtures() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/fleet/cookies.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read cookies.json"))
        .expect("cookies.json is JSON")
}

fn fixture(name: &str) -> (String, String, i64) {
    let f = &fixtures()[name];
    (
        f["cookie"].as_str().expect("cookie").to_owned(),
        f["_id"].as_str().expect("_id").to_owned(),
        f["value"].as_i64().expect("value"),
    )
}

fn key(name: &str) -> String {
    fixtures()[name].as_str().expect("key").to_owned()
}

fn options() -> BeakerOptions {
    let f = fixtures();
    let map = f["options"].as_object().expect("options");
    BeakerOptions::from_pairs(
        map.iter()
            .map(|(k, v)| (k.as_str(), v.as_str().expect("str"))),
    )
}

fn config() -> SessionConfig {
    SessionConfig::from_options(&options()).expect("config")
}

/// The reference's test app (`simple_app` of beaker-session-jwt's test.py).
async fn counter_app(req: Request<String>) -> Result<Response<String>, Infallible> {
    let handle = SessionHandle::from_request(&req).expect("the layer put a session in");
    let mut s = handle.lock();
    let value = match s.get("value") {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        _ => 0,
    } + 1;
    s.insert("value", value);
    s.insert("example_date", DateTime::from_millis(1_683_244_800_000));
    s.save();
    Ok(Response::new(format!("The current value is: {value}")))
}

fn request(cookie: Option<&str>) -> Request<String> {
    let mut b = Request::builder().uri("/");
    if let Some(c) = cookie {
        b = b.header(COOKIE, format!("theme=dark; beaker.session.id={c}"));
    }
    b.body(String::new()).expect("request")
}

/// Log events captured while a request runs: `LEVEL field=value ...`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                let _ = write!(self.0, " {}={:?}", field.name(), value);
            }
        }
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        self.0.lock().expect("log lock").push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Runs one request through `layer` around the counter app; returns the response and
/// the log lines.
fn run(layer: SessionLayer, req: Request<String>) -> (Response<String>, Vec<String>) {
    run_with(layer, req, service_fn(counter_app))
}

fn run_with<S>(layer: SessionLayer, req: Request<String>, app: S) -> (Response<String>, Vec<String>)
where
    S: tower::Service<Request<String>, Response = Response<String>, Error = Infallible> + Clone,
{
    let capture = Capture::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let response = tracing::subscriber::with_default(capture.clone(), || {
        rt.block_on(layer.layer(app).oneshot(req))
    })
    .expect("infallible");
    let logs = capture.0.lock().expect("log lock").clone();
    (response, logs)
}

fn body(r: &Response<String>) -> &str {
    r.body().as_str()
}

/// The one `Set-Cookie` header of a response, if any.
fn set_cookie(r: &Response<String>) -> Option<String> {
    let all: Vec<_> = r.headers().get_all(SET_COOKIE).iter().collect();
    assert!(all.len() <= 1, "more than one Set-Cookie: {all:?}");
    all.first().map(|v| v.to_str().expect("ascii").to_owned())
}

/// The cookie value of a `Set-Cookie` header.
fn cookie_value(set_cookie: &str) -> &str {
    let first = set_cookie.split(';').next().unwrap_or("");
    first
        .strip_prefix("beaker.session.id=")
        .expect("our cookie name")
}

/// HMAC-SHA256 of the JWT's signing input under `key`, compared with its signature.
fn signed_by(jwt: &str, key: &str) -> bool {
    let Some((input, sig)) = jwt.rsplit_once('.') else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()) == sig
}

fn decode(cookie: &str) -> beaker_session_jwt::Decoded {
    config()
        .codec()
        .decode(cookie)
        .expect("the layer's cookie decodes")
}

fn assert_no_secrets(logs: &[String], cookie: &str) {
    let text = logs.join("\n");
    for secret in [key("new_key"), key("old_key"), key("validate_key")] {
        assert!(!text.contains(&secret), "a key in the log: {text}");
    }
    for part in cookie.split('.').filter(|p| p.len() >= 8) {
        assert!(!text.contains(part), "cookie content in the log: {text}");
    }
}

#[test]
fn no_cookie_starts_a_session_and_writes_a_jwt_signed_with_the_first_key() {
    let (resp, logs) = run(SessionLayer::new(config()), request(None));
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body(&resp), "The current value is: 1");
    let header = set_cookie(&resp).expect("a saved session writes a cookie");
    let value = cookie_value(&header);
    assert!(value.starts_with(JWT_HEADER), "{header}");
    assert!(signed_by(value, &key("new_key")));
    assert!(
        header.contains("; Path=/") && header.contains("SameSite=Lax"),
        "{header}"
    );
    assert_eq!(decode(value).session.get_i64("value").ok(), Some(1));
    assert!(logs.is_empty(), "{logs:?}");
}

#[test]
fn valid_python_cookie_keeps_counting_and_keeps_its_id() {
    let (cookie, id, value) = fixture("jwt_new_key");
    let (resp, logs) = run(SessionLayer::new(config()), request(Some(&cookie)));
    assert_eq!(body(&resp), format!("The current value is: {}", value + 1));
    let header = set_cookie(&resp).expect("cookie");
    let decoded = decode(cookie_value(&header));
    assert_eq!(decoded.session.get_str("_id").ok(), Some(id.as_str()));
    assert_eq!(decoded.key_index, Some(0));
    assert!(logs.is_empty(), "{logs:?}");
}

#[test]
fn tampered_cookie_becomes_a_new_session_and_a_warning_that_leaks_nothing() {
    let (cookie, id, _) = fixture("jwt_new_key");
    // one changed character in the signature, then in the payload
    let mut sig_flipped = cookie.clone();
    let last = if cookie.ends_with('A') { "B" } else { "A" };
    sig_flipped.replace_range(cookie.len() - 1.., last);
    let dot = cookie.find('.').expect("dot") + 5;
    let mut payload_flipped = cookie.clone();
    let c = if &cookie[dot..=dot] == "x" { "y" } else { "x" };
    payload_flipped.replace_range(dot..=dot, c);
    for tampered in [sig_flipped, payload_flipped] {
        let (resp, logs) = run(SessionLayer::new(config()), request(Some(&tampered)));
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(body(&resp), "The current value is: 1");
        let header = set_cookie(&resp).expect("the new session is saved");
        let decoded = decode(cookie_value(&header));
        assert_ne!(decoded.session.get_str("_id").ok(), Some(id.as_str()));
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert!(logs[0].starts_with("WARN"), "{logs:?}");
        assert!(logs[0].contains("kind=\"bad_signature\""), "{logs:?}");
        assert_no_secrets(&logs, &tampered);
    }
}

#[test]
fn garbage_cookies_never_become_a_500() {
    for garbage in [
        "",
        "garbage",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJ2YWx1ZSI6OTl9.",
        "\"quoted\"",
        "0000000000000000000000000000000000000000gAJ9cQAu",
    ] {
        let (resp, logs) = run(SessionLayer::new(config()), request(Some(garbage)));
        assert_eq!(resp.status(), StatusCode::OK, "{garbage:?}");
        assert_eq!(body(&resp), "The current value is: 1", "{garbage:?}");
        assert!(logs.iter().all(|l| l.starts_with("WARN")), "{logs:?}");
    }
}

#[test]
fn old_key_cookie_is_reissued_with_the_new_key() {
    let (cookie, id, value) = fixture("jwt_old_key");
    assert!(signed_by(&cookie, &key("old_key")));
    let config = config();
    let (resp, logs) = run(SessionLayer::new(config.clone()), request(Some(&cookie)));
    // the operator's view: one cookie verified by the second key, one re-issue
    let m = config.metrics().snapshot();
    assert_eq!(
        (m.by_key.clone(), m.reissued, m.rejected_total()),
        (vec![0, 1], 1, 0)
    );
    assert_eq!(body(&resp), format!("The current value is: {}", value + 1));
    let header = set_cookie(&resp).expect("cookie");
    let new = cookie_value(&header);
    assert!(signed_by(new, &key("new_key")), "{header}");
    assert!(!signed_by(new, &key("old_key")));
    assert_eq!(decode(new).session.get_str("_id").ok(), Some(id.as_str()));
    assert!(logs.is_empty(), "{logs:?}");
}

#[test]
fn old_key_cookie_is_reissued_even_when_the_handler_ignores_the_session() {
    let (cookie, id, value) = fixture("jwt_old_key");
    let ignore = service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new("static".to_owned()))
    });
    let (resp, _) = run_with(SessionLayer::new(config()), request(Some(&cookie)), ignore);
    let header = set_cookie(&resp).expect("re-issued without being touched");
    let decoded = decode(cookie_value(&header));
    assert!(signed_by(cookie_value(&header), &key("new_key")));
    assert_eq!(decoded.session.get_str("_id").ok(), Some(id.as_str()));
    assert_eq!(
        decoded.session.get_i32("value").ok(),
        i32::try_from(value).ok()
    );
    // a current-key cookie on the same route is left alone (Beaker's lazy session)
    let (cookie, _, _) = fixture("jwt_new_key");
    let ignore = service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new("static".to_owned()))
    });
    let (resp, _) = run_with(SessionLayer::new(config()), request(Some(&cookie)), ignore);
    assert_eq!(set_cookie(&resp), None);
}

#[test]
fn original_format_cookie_from_beaker_is_reissued_as_jwt() {
    let (cookie, id, value) = fixture("original");
    assert!(!cookie.starts_with(JWT_HEADER));
    let config = config();
    let (resp, logs) = run(SessionLayer::new(config.clone()), request(Some(&cookie)));
    let m = config.metrics().snapshot();
    assert_eq!((m.original, m.reissued, m.jwt), (1, 1, 0));
    assert_eq!(body(&resp), format!("The current value is: {}", value + 1));
    let header = set_cookie(&resp).expect("cookie");
    let new = cookie_value(&header);
    assert!(new.starts_with(JWT_HEADER), "{header}");
    assert!(signed_by(new, &key("new_key")));
    let decoded = decode(new);
    assert_eq!(decoded.format, CookieFormat::Jwt);
    assert_eq!(decoded.session.get_str("_id").ok(), Some(id.as_str()));
    assert_eq!(
        decoded.session.get_datetime("example_date").ok(),
        Some(&DateTime::from_millis(1_683_244_800_000))
    );
    assert!(logs.is_empty(), "{logs:?}");
}

#[test]
fn session_too_large_for_a_cookie_is_a_500_without_set_cookie() {
    // incompressible data: 4 KiB of xorshift bytes as hex does not fit in 4064 characters
    let big = service_fn(|req: Request<String>| async move {
        let handle = SessionHandle::from_request(&req).expect("session");
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut data = String::new();
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let _ = write!(data, "{:02x}", x & 0xff);
        }
        let mut s = handle.lock();
        s.insert("blob", data);
        s.save();
        Ok::<_, Infallible>(Response::new("saved".to_owned()))
    });
    let (resp, logs) = run_with(SessionLayer::new(config()), request(None), big);
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(set_cookie(&resp), None);
    assert_eq!(body(&resp), "", "the handler's body is not sent");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].starts_with("ERROR") && logs[0].contains("kind=\"cookie_too_long\""),
        "{logs:?}"
    );
}

#[test]
fn configured_error_instead_of_a_new_session() {
    let strict = SessionConfig::builder_from_options(&options())
        .expect("options")
        .invalidate_corrupt(false)
        .build()
        .expect("config");
    let (cookie, _, _) = fixture("jwt_new_key");
    let tampered = format!("{}x", &cookie[..cookie.len() - 1]);
    let called = Arc::new(AtomicBool::new(false));
    let flag = called.clone();
    let app = service_fn(move |req: Request<String>| {
        flag.store(true, Ordering::SeqCst);
        counter_app(req)
    });
    let layer = SessionLayer::new(strict.clone()).reject_with(StatusCode::BAD_REQUEST);
    assert_eq!(
        layer.rejected_cookie_policy(),
        RejectedCookie::Respond(StatusCode::BAD_REQUEST)
    );
    let (resp, logs) = run_with(layer, request(Some(&tampered)), app.clone());
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(set_cookie(&resp), None);
    assert!(!called.load(Ordering::SeqCst), "the handler must not run");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].contains("kind=\"bad_signature\"") && logs[0].contains("status=400"),
        "{logs:?}"
    );
    assert_no_secrets(&logs, &tampered);

    // the same configuration with the layer's default policy: a new session, no 500
    let (resp, logs) = run_with(SessionLayer::new(strict), request(Some(&tampered)), app);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body(&resp), "The current value is: 1");
    assert!(called.load(Ordering::SeqCst));
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_no_secrets(&logs, &tampered);
}

#[test]
fn new_session_that_is_not_saved_writes_no_cookie() {
    let look = service_fn(|req: Request<String>| async move {
        let handle = SessionHandle::from_request(&req).expect("session");
        let id = handle.lock().id().map(str::to_owned);
        Ok::<_, Infallible>(Response::new(format!("{id:?}")))
    });
    let (resp, _) = run_with(SessionLayer::new(config()), request(None), look);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        set_cookie(&resp),
        None,
        "Beaker writes nothing for an unsaved new session"
    );
}

#[cfg(feature = "axum")]
mod axum_extractor {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;

    async fn index(session: SessionHandle) -> String {
        let mut s = session.lock();
        let value = s.get("value").and_then(Bson::as_i32).unwrap_or(0) + 1;
        s.insert("value", value);
        s.save();
        format!("The current value is: {value}")
    }

    async fn send(app: Router, cookie: Option<&str>) -> (StatusCode, Option<String>, String) {
        let mut b = Request::builder().uri("/");
        if let Some(c) = cookie {
            b = b.header(COOKIE, format!("beaker.session.id={c}"));
        }
        let resp = app
            .oneshot(b.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let sc = resp
            .headers()
            .get(SET_COOKIE)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, sc, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn extractor_counts_across_requests() {
        let app = Router::new()
            .route("/", get(index))
            .layer(SessionLayer::new(config()));
        let (_, sc, text) = send(app.clone(), None).await;
        assert_eq!(text, "The current value is: 1");
        let sc = sc.expect("cookie");
        let (status, _, text) = send(app.clone(), Some(cookie_value(&sc))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text, "The current value is: 2");
        let (cookie, _, value) = fixture("jwt_old_key");
        let (_, sc, text) = send(app, Some(&cookie)).await;
        assert_eq!(text, format!("The current value is: {}", value + 1));
        assert!(signed_by(
            cookie_value(&sc.expect("cookie")),
            &key("new_key")
        ));
    }

    #[tokio::test]
    async fn extractor_without_the_layer_is_a_clear_500() {
        let app = Router::new().route("/", get(index));
        let (status, sc, text) = send(app, None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(sc, None);
        assert!(text.contains("SessionLayer"), "{text}");
    }
}
