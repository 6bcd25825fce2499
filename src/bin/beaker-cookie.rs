//! `beaker-cookie`: decode and encode Beaker session cookies from the shell.
//!
//! A thin shell over the library: options come from an ini file (`--config`, the
//! app's own `development.ini`) and `--set NAME=VALUE`; sessions are printed as
//! one line of MongoDB canonical Extended JSON, as the Python reference tools do.
//! Exit status: 0 success, 1 cookie rejected, 2 usage or configuration error.
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::borrow::Cow;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use beaker_session_jwt::{BeakerOptions, Codec, Error, config, cookies, ejson};
use clap::{Args, Parser, Subcommand};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "beaker-cookie",
    version,
    about = "Decode and encode Beaker session cookies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a cookie value (argument or stdin) and print the session as canonical Extended JSON.
    Decode {
        #[command(flatten)]
        options: OptionArgs,
        /// Read one cookie per line from stdin; print one line per cookie (session or error).
        #[arg(long)]
        lines: bool,
        /// The input is a whole Cookie header; the session cookie is picked out of it.
        #[arg(long)]
        from_header: bool,
        /// The cookie value (default: read stdin, one trailing newline ignored).
        cookie: Option<String>,
    },
    /// Encode one Extended JSON object read from stdin and print the cookie value.
    Encode {
        #[command(flatten)]
        options: OptionArgs,
    },
    /// Print the session cookie's value from a whole Cookie header read from stdin.
    Extract {
        /// The cookie name (Beaker's `key`).
        #[arg(long, default_value = "beaker.session.id")]
        key: String,
    },
}

#[derive(Args)]
struct OptionArgs {
    /// An ini file with the app's options (`session.jwt_secret_keys = new, old`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The ini section to read.
    #[arg(long, default_value = "app:main")]
    section: String,
    /// Add or override an option. Secrets given here are visible to other local users
    /// (ps, /proc); prefer --set-env or --set-file for keys.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Set an option from an environment variable: `--set-env session.jwt_secret_keys=APP_KEYS`.
    #[arg(long = "set-env", value_name = "KEY=VAR")]
    set_env: Vec<String>,
    /// Set an option from a file's contents (one trailing newline dropped).
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    set_file: Vec<String>,
}

/// Failures of the CLI itself: a rejected cookie (exit 1) or bad usage/configuration (exit 2).
enum Failure {
    Rejected(Error),
    NoCookie(String),
    Usage(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        if e.is_config() {
            Failure::Usage(e.to_string())
        } else {
            Failure::Rejected(e)
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Usage(format!("i/o error: {e}"))
    }
}

fn split_pair(pair: &str) -> Result<(&str, &str), Failure> {
    pair.split_once('=')
        .ok_or_else(|| Failure::Usage(format!("expected KEY=VALUE, got {pair:?}")))
}

fn load_options(args: &OptionArgs) -> Result<BeakerOptions, Failure> {
    let mut options = match &args.config {
        Some(path) => BeakerOptions::from_ini_file(path, &args.section)?,
        None => BeakerOptions::new(),
    };
    let mut explicit = Vec::new();
    for pair in &args.set {
        let (name, value) = split_pair(pair)?;
        if config::is_secret_option(name) {
            eprintln!(
                "beaker-cookie: warning: {name} given on the command line is visible to other local \
                 users; use --set-env {name}=VAR or --set-file {name}=PATH instead"
            );
        }
        options.set(name, value);
        explicit.push(name.to_owned());
    }
    for pair in &args.set_env {
        let (name, var) = split_pair(pair)?;
        let value = Zeroizing::new(
            std::env::var(var)
                .map_err(|_| Failure::Usage(format!("environment variable {var} is not set")))?,
        );
        options.set(name, &value);
        explicit.push(name.to_owned());
    }
    for pair in &args.set_file {
        let (name, path) = split_pair(pair)?;
        let value = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?,
        );
        options.set(name, value.strip_suffix('\n').unwrap_or(&value));
        explicit.push(name.to_owned());
    }
    let mut unknown = options.unknown_options();
    unknown.extend(explicit.into_iter().filter(|n| !config::is_known_option(n)));
    unknown.sort();
    unknown.dedup();
    for name in unknown {
        eprintln!("beaker-cookie: warning: ignoring unknown option {name}");
    }
    Ok(options)
}

/// Stdin as text with one trailing newline (and a `\r` before it) removed, as the
/// reference tools read it.
fn read_stdin_value() -> Result<String, Failure> {
    let mut text = String::new();
    io::stdin().read_to_string(&mut text)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

fn error_line(e: &Error) -> String {
    let kind = serde_json::Value::from(e.kind());
    let message = serde_json::Value::from(e.to_string());
    format!("{{\"error\": {kind}, \"message\": {message}}}")
}

fn cookie_name(options: &BeakerOptions) -> String {
    options.get("key").unwrap_or("beaker.session.id").to_owned()
}

fn pick_cookie<'a>(
    header: &'a str,
    from_header: bool,
    name: &str,
) -> Result<Cow<'a, str>, Failure> {
    if !from_header {
        return Ok(Cow::Borrowed(header));
    }
    cookies::find_session_cookie(header, name)
        .map(Cow::Owned)
        .ok_or_else(|| Failure::NoCookie(format!("no {name} cookie in the header")))
}

fn decode(
    args: &OptionArgs,
    lines: bool,
    from_header: bool,
    cookie: Option<String>,
) -> Result<(), Failure> {
    let options = load_options(args)?;
    let codec = Codec::from_options(&options)?;
    let name = cookie_name(&options);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if lines {
        // One input and one output buffer for the whole stream, not one per line.
        let mut input = io::stdin().lock();
        let mut buf = String::new();
        let mut text = String::new();
        loop {
            buf.clear();
            if input.read_line(&mut buf)? == 0 {
                break;
            }
            // What `BufRead::lines` strips (`\n` or `\r\n`), then one more `\r`.
            let line = match buf.strip_suffix('\n') {
                Some(l) => l.strip_suffix('\r').unwrap_or(l),
                None => &buf,
            };
            let line = line.strip_suffix('\r').unwrap_or(line);
            let result = match pick_cookie(line, from_header, &name) {
                Ok(value) => codec.decode(&value).map_err(Failure::Rejected),
                Err(e) => Err(e),
            };
            match result {
                Ok(decoded) => {
                    text.clear();
                    ejson::write_canonical(&mut text, &decoded.session);
                    text.push('\n');
                    out.write_all(text.as_bytes())?;
                }
                Err(Failure::Rejected(e)) => writeln!(out, "{}", error_line(&e))?,
                Err(Failure::NoCookie(m) | Failure::Usage(m)) => writeln!(
                    out,
                    "{{\"error\": \"no_cookie\", \"message\": {}}}",
                    serde_json::Value::from(m)
                )?,
            }
        }
        out.flush()?;
        return Ok(());
    }
    let input = match cookie {
        Some(c) => c,
        None => read_stdin_value()?,
    };
    let value = pick_cookie(&input, from_header, &name)?;
    let decoded = codec.decode(&value).map_err(Failure::Rejected)?;
    writeln!(out, "{}", ejson::to_canonical_string(&decoded.session))?;
    out.flush()?;
    Ok(())
}

fn encode(args: &OptionArgs) -> Result<(), Failure> {
    let options = load_options(args)?;
    let codec = Codec::from_options(&options)?;
    let text = read_stdin_value()?;
    let session = ejson::from_str(&text).map_err(|e| Failure::Usage(format!("input: {e}")))?;
    let cookie = codec.encode(&session).map_err(Failure::Rejected)?;
    println!("{cookie}");
    Ok(())
}

fn extract(key: &str) -> Result<(), Failure> {
    let mut header = String::new();
    io::stdin().read_to_string(&mut header)?;
    match cookies::find_session_cookie(&header, key) {
        Some(value) => {
            println!("{value}");
            Ok(())
        }
        None => Err(Failure::NoCookie(format!("no {key} cookie in the header"))),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode {
            options,
            lines,
            from_header,
            cookie,
        } => decode(&options, lines, from_header, cookie),
        Command::Encode { options } => encode(&options),
        Command::Extract { key } => extract(&key),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Rejected(e)) => {
            eprintln!("beaker-cookie: {}: {e}", e.kind());
            ExitCode::from(1)
        }
        Err(Failure::NoCookie(m)) => {
            eprintln!("beaker-cookie: {m}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(m)) => {
            eprintln!("beaker-cookie: {m}");
            ExitCode::from(2)
        }
    }
}
