//! Every fuzz target still builds against the current crates and passes its committed seed
//! corpus: each target is linked by this package as an ordinary binary (libFuzzer's driver,
//! without the coverage instrumentation that needs cargo-fuzz) and run once over every file
//! of `corpus/<target>/` with `-runs=0`. A panic on any seed fails the test.

use std::path::Path;
use std::process::Command;

fn replay(target: &str, binary: &str) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let seeds = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .count();
    assert!(seeds > 0, "{target}: no seeds in {}", corpus.display());
    let out = Command::new(binary)
        .arg("-runs=0")
        .arg(&corpus)
        .output()
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{target} failed on a seed:\n{log}");
    // libFuzzer reports how many inputs it read: every seed, not an empty run.
    assert!(
        log.contains(&format!("INFO: seed corpus: files: {seeds} ")),
        "{target} did not read its {seeds} seeds:\n{log}"
    );
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name), env!(concat!("CARGO_BIN_EXE_", stringify!($name))));
            }
        )*
    };
}

targets!(
    normalize_path,
    http1_framing,
    config_load,
    api_key_parse,
    jws_parse,
    jwks_parse,
    decode_variants,
    sql_lex,
    extract_body,
    openapi_load,
);
