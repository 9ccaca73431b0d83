//! The config loader never panics: arbitrary text and mutated valid configs, fed in-process.
//! A bounded, seeded randomized loop (no extra dependency); a failure prints the input.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::panic::{catch_unwind, AssertUnwindSafe};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "[[record]]\n",
    "[node]\n",
    "[mqtt]\n",
    "[store]\n",
    "[admin]\n",
    "=",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\n",
    "key",
    "type",
    "input",
    "kind",
    "capacity = 0",
    "-1",
    "1e99",
    "nan",
    "inf",
    "\"mqtt://\"",
    "+",
    "#",
    "\u{0}",
    "é",
    "🦀",
    "transform = { kind = \"threshold\", input = \"a\" }",
    "source = { kind = \"simulate\", period_ms = 1 }",
    "tap = [{ kind = \"log\" }]",
    "link_to = [{ url = \"mqtt://a/b\", qos = 9 }]",
    "retention = \"7d\"",
    "\"\"\"",
    "'''",
    "#comment\n",
    "99999999999999999999999",
];

fn valid_configs() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = Vec::new();
    for p in [
        "config/aimdbd.toml",
        "config/examples/gateway.toml",
        "config/examples/json-bridge.toml",
        "tests/configs/many_mistakes.toml",
    ] {
        v.push(std::fs::read_to_string(root.join(p)).expect("config exists"));
    }
    v
}

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(chars.len() + 1);
        match rng.below(4) {
            0 => {
                let end = (at + rng.below(20)).min(chars.len());
                chars.drain(at..end);
            }
            1 => {
                let tok = TOKENS[rng.below(TOKENS.len())];
                chars.splice(at..at, tok.chars());
            }
            2 => {
                let end = (at + rng.below(80)).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                let to = rng.below(chars.len() + 1);
                chars.splice(to..to, copy);
            }
            _ => {
                if at < chars.len() {
                    chars[at] = char::from_u32(rng.below(0x3000) as u32).unwrap_or('x');
                }
            }
        }
    }
    chars.into_iter().collect()
}

fn must_not_panic(text: &str) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _ = aimdbd::config::parse("fuzz.toml", text, aimdbd::engine::catalog())
            .map_err(|e| e.to_string());
    }));
    assert!(result.is_ok(), "config loader panicked on:\n{text}");
}

#[test]
fn mutated_valid_configs_never_panic() {
    let configs = valid_configs();
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    for i in 0..4000 {
        let base = &configs[i % configs.len()];
        must_not_panic(&mutate(&mut rng, base));
    }
}

#[test]
fn arbitrary_text_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..4000 {
        let len = rng.below(300);
        let text: String = (0..len)
            .map(|_| {
                if rng.below(3) == 0 {
                    TOKENS[rng.below(TOKENS.len())].to_string()
                } else {
                    char::from_u32(rng.below(0x80) as u32)
                        .unwrap_or('x')
                        .to_string()
                }
            })
            .collect();
        must_not_panic(&text);
    }
}
