//! Shard selection: which cases a run of shard K of N evaluates, by a hash of surface and
//! case id, so the shards partition the cases and adding a case never moves the others.

use crate::eval::cache;
use crate::eval::providers::Request;

/// A deterministic slice of the cases: shard K of N, by a hash of surface and case id, so
/// adding a case never moves the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` with 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: write K/N with 1 ≤ K ≤ N, e.g. 2/4");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub fn contains(&self, surface: &str, case_id: &str) -> bool {
        let key = cache::request_key(
            &Request {
                model: surface.to_string(),
                messages: Vec::new(),
                params: serde_json::Map::from_iter([("case".to_string(), case_id.into())]),
            },
            0,
        );
        let bucket = u64::from_str_radix(&key[..15], 16).unwrap_or(0);
        bucket % u64::from(self.count) == u64::from(self.index - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_cases() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for id in 0..200 {
            let id = format!("case-{id}");
            assert_eq!(shards.iter().filter(|s| s.contains("s", &id)).count(), 1);
        }
        assert!(
            Shard::parse("0/3").is_err()
                && Shard::parse("4/3").is_err()
                && Shard::parse("x").is_err()
        );
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
    }
}
