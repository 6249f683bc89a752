//! Fuzzes config loading: any text, valid TOML or not, must come back as a `Config` or as
//! `ConfigErrors`, never as a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Config::from_toml_str(text);
});
