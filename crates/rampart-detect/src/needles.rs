//! Lists of literal needles searched in one pass.
//!
//! A scanner that asks `text.contains(needle)` for each of fifty needles walks the text
//! fifty times and pays `str::contains`'s set-up for each needle on every call; an
//! Aho-Corasick automaton built once finds every occurrence of every needle in one pass.
//! Needles are lower-case and matched without regard to ASCII case, so callers need not
//! lower-case what they search. The needles are fixed lists in the source: building the
//! automaton does not fail (were it ever to, the plain loop over a lower-cased copy is the
//! fallback, and the answer is the same).

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

pub(crate) struct Needles {
    lists: Lists,
    automaton: OnceLock<Option<AhoCorasick>>,
}

/// One list, or several searched as one (a gate that asks whether any of several
/// scanners' needles occurs, in one pass).
enum Lists {
    One(&'static [&'static str]),
    Many(&'static [&'static [&'static str]]),
}

impl Needles {
    pub(crate) const fn new(list: &'static [&'static str]) -> Needles {
        Needles {
            lists: Lists::One(list),
            automaton: OnceLock::new(),
        }
    }

    /// The needles of every list in `lists`.
    pub(crate) const fn union(lists: &'static [&'static [&'static str]]) -> Needles {
        Needles {
            lists: Lists::Many(lists),
            automaton: OnceLock::new(),
        }
    }

    /// Every needle, in order: an automaton's pattern index is a position here.
    fn list(&self) -> impl Iterator<Item = &'static str> + Clone + '_ {
        let lists: &[&'static [&'static str]] = match &self.lists {
            Lists::One(list) => std::slice::from_ref(list),
            Lists::Many(lists) => lists,
        };
        lists.iter().flat_map(|list| list.iter().copied())
    }

    fn automaton(&self) -> Option<&AhoCorasick> {
        self.automaton
            .get_or_init(|| {
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(true)
                    .build(self.list())
                    .ok()
            })
            .as_ref()
    }

    /// Whether any needle occurs in `hay`.
    pub(crate) fn any(&self, hay: &str) -> bool {
        match self.automaton() {
            Some(ac) => ac.is_match(hay),
            None => {
                let lower = hay.to_ascii_lowercase();
                self.list().any(|n| lower.contains(n))
            }
        }
    }

    /// Every occurrence of every needle, overlapping ones included: (needle, start).
    pub(crate) fn each(&self, hay: &str, mut visit: impl FnMut(&'static str, usize) -> bool) {
        match self.automaton() {
            Some(ac) => {
                for m in ac.find_overlapping_iter(hay) {
                    let Some(needle) = self.list().nth(m.pattern().as_usize()) else {
                        return;
                    };
                    if !visit(needle, m.start()) {
                        return;
                    }
                }
            }
            None => {
                let lower = hay.to_ascii_lowercase();
                for needle in self.list() {
                    for (at, _) in lower.match_indices(needle) {
                        if !visit(needle, at) {
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static LIST: Needles = Needles::new(&["abc", "bc", "x"]);

    #[test]
    fn finds_every_occurrence_in_one_pass() {
        assert!(LIST.any("zzabczz"));
        assert!(LIST.any("zzABcZZ"), "ASCII case does not matter");
        assert!(!LIST.any("ab c"));
        let mut seen = Vec::new();
        LIST.each("abcxbc", |n, at| {
            seen.push((n, at));
            true
        });
        seen.sort();
        assert_eq!(seen, [("abc", 0), ("bc", 1), ("bc", 4), ("x", 3)]);
    }

    static UNION: Needles = Needles::union(&[&["abc"], &["bc", "x"]]);

    #[test]
    fn a_union_finds_the_needles_of_every_list() {
        assert!(UNION.any("zzXzz"));
        assert!(!UNION.any("ab c"));
        let mut seen = Vec::new();
        UNION.each("abcx", |n, at| {
            seen.push((n, at));
            true
        });
        seen.sort();
        assert_eq!(seen, [("abc", 0), ("bc", 1), ("x", 3)]);
    }
}
