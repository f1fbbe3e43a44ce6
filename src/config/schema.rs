//! The JSON Schema of `promptgate.toml`, generated from the config types (their doc
//! comments are its descriptions), for editors that complete and check TOML against a
//! `#:schema` line; and the URL of the schema published with this version.

use super::Config;

/// Where the schema of this version is published (the file `promptgate.schema.json` at the
/// version's tag); `init` writes it into the config's `#:schema` line.
pub const SCHEMA_URL: &str = concat!(
    "https://raw.githubusercontent.com/promptgate/promptgate/v",
    env!("CARGO_PKG_VERSION"),
    "/promptgate.schema.json"
);

/// The schema as pretty-printed JSON, ending in a newline.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(Config);
    schema.insert("title".into(), "promptgate.toml".into());
    schema.insert(
        "description".into(),
        "How promptgate gates prompt changes: providers, surfaces with their thresholds, tiers, approvals, drills and the review.".into(),
    );
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_every_table_and_surface_key() {
        let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
        let top = schema["properties"].as_object().unwrap();
        for table in [
            "gate", "provider", "surface", "tier", "policy", "price", "drill", "review", "hooks",
        ] {
            assert!(top.contains_key(table), "missing [{table}]");
        }
        assert!(!top.contains_key("raw"), "the raw copy is not a key");
        let surface = &schema["$defs"]["Surface"]["properties"];
        for key in [
            "name",
            "prompts",
            "cases",
            "tier",
            "min_pass_rate",
            "max_drop",
        ] {
            assert!(surface.get(key).is_some(), "missing surface key {key}");
        }
        assert_eq!(schema["$defs"]["Surface"]["additionalProperties"], false);
    }

    #[test]
    fn the_published_file_is_this_versions_schema() {
        let committed = include_str!("../../promptgate.schema.json");
        assert!(
            committed == json_schema(),
            "promptgate.schema.json is stale: run `cargo run -q -- schema > promptgate.schema.json`"
        );
    }
}
