//! Fuzzes the SQL lexer and rules: no input may panic, at most `MAX_TOKENS` tokens come
//! back, and every token is a piece of the input, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_detect::sql::{self, Context, MAX_TOKENS};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for context in [Context::Bare, Context::SingleQuoted, Context::DoubleQuoted] {
        let tokens = sql::lex(raw, context);
        assert!(tokens.len() <= MAX_TOKENS);
        let mut from = 0;
        for token in &tokens {
            let at = raw[from..]
                .find(token.text)
                .unwrap_or_else(|| panic!("{:?} is not in order in {raw:?}", token.text));
            from += at + token.text.len();
        }
        let _ = sql::rules(&tokens, context);
    }
    let _ = sql::score(raw);
});
