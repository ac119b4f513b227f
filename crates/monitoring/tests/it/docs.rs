//! The documentation cannot drift: `docs/OPERATIONS.md`'s metric table equals the catalogue, every
//! metric name in the workspace's sources is catalogued, and the Grafana dashboard only queries
//! metrics of the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use finstage_monitoring::catalog::{self, CATALOG, MetricKind};

const OPERATIONS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/OPERATIONS.md"));
const DASHBOARD: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana/finstage.json"));

/// A row of the metric table: name → (type, labels, emitted by).
type Row = (String, Vec<String>, String);

/// The rows of OPERATIONS.md's metric tables: `| `name` | type | `a`, `b` | emitter | meaning |`.
fn documented() -> BTreeMap<String, Row> {
    let mut rows = BTreeMap::new();
    for line in OPERATIONS.lines() {
        let Some(rest) = line.strip_prefix("| `") else { continue };
        let cells: Vec<&str> = rest.split(" | ").collect();
        let name = cells[0].trim_end_matches('`');
        if !(name.starts_with("finstage_") || name.starts_with("process_")) || cells.len() < 5 {
            continue;
        }
        let labels = match cells[2].trim() {
            "—" => vec![],
            labels => labels.split(", ").map(|l| l.trim_matches('`').to_owned()).collect(),
        };
        let previous = rows.insert(
            name.to_owned(),
            (cells[1].trim().to_owned(), labels, cells[3].trim().to_owned()),
        );
        assert!(previous.is_none(), "{name} is in the table twice");
    }
    rows
}

#[test]
fn the_operations_table_is_the_catalogue() {
    let rows = documented();
    for def in CATALOG {
        let row = rows
            .get(def.name)
            .unwrap_or_else(|| panic!("{} is missing from docs/OPERATIONS.md", def.name));
        let emitter = if def.planned {
            format!("(planned: {})", def.emitter)
        } else {
            def.emitter.to_owned()
        };
        let expected: Row = (
            def.kind.as_str().to_owned(),
            def.labels.iter().map(|l| (*l).to_owned()).collect(),
            emitter,
        );
        assert_eq!(
            row, &expected,
            "{} differs between the catalogue and docs/OPERATIONS.md",
            def.name
        );
    }
    for name in rows.keys() {
        assert!(
            catalog::lookup(name).is_some(),
            "{name} is documented but not in the catalogue"
        );
    }
}

/// Every `finstage_…`/`process_…` word of `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !is_word(bytes[i - 1]);
        if boundary && (bytes[i..].starts_with(b"finstage_") || bytes[i..].starts_with(b"process_")) {
            // ASCII from `i` to `end`: both are character boundaries.
            let end = bytes[i..]
                .iter()
                .position(|&b| !is_word(b))
                .map_or(bytes.len(), |n| i + n);
            names.insert(text[i..end].to_owned());
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

/// A series name as it appears in a query, back to its metric (`…_bucket` of a histogram).
fn metric_of(series: &str) -> Option<&'static catalog::MetricDef> {
    catalog::lookup(series).or_else(|| {
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = series.strip_suffix(suffix)?;
            catalog::lookup(base).filter(|def| def.kind == MetricKind::Histogram)
        })
    })
}

fn collect_panels<'a>(panels: &'a [serde_json::Value], out: &mut Vec<&'a serde_json::Value>) {
    for panel in panels {
        out.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            collect_panels(inner, out);
        }
    }
}

#[test]
fn the_dashboard_only_queries_documented_metrics() {
    let documented = documented();
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("the dashboard is valid JSON");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(dashboard["uid"].as_str().is_some_and(|t| !t.is_empty()));
    let mut panels = Vec::new();
    collect_panels(dashboard["panels"].as_array().expect("panels"), &mut panels);

    let mut ids = BTreeSet::new();
    let mut rows = Vec::new();
    let mut queried = BTreeSet::new();
    for panel in &panels {
        let id = panel["id"].as_u64().expect("every panel has an id");
        assert!(ids.insert(id), "panel id {id} twice");
        let title = panel["title"].as_str().expect("every panel has a title");
        if panel["type"] == "row" {
            rows.push(title.to_owned());
            continue;
        }
        let targets = panel["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("{title}: no targets"));
        assert!(!targets.is_empty(), "{title}: no targets");
        for target in targets {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{title}: a target without expr"));
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: {expr} queries no Finstage metric");
            for series in names {
                let def = metric_of(&series).unwrap_or_else(|| panic!("{title}: {series} is not a catalogued metric"));
                assert!(
                    documented.contains_key(def.name),
                    "{title}: {} is not in OPERATIONS.md",
                    def.name
                );
                if series != def.name {
                    assert_eq!(def.kind, MetricKind::Histogram, "{title}: {series}");
                } else {
                    assert_ne!(
                        def.kind,
                        MetricKind::Histogram,
                        "{title}: query {series}_bucket, not {series}"
                    );
                }
                queried.insert(def.name);
            }
        }
    }
    for row in ["HTTP", "Upstream", "Cache", "Database", "Tasks", "Process"] {
        assert!(rows.iter().any(|r| r.starts_with(row)), "no {row} row in {rows:?}");
    }
    for needed in [
        catalog::HTTP_REQUESTS_TOTAL,
        catalog::UPSTREAM_REQUESTS_TOTAL,
        catalog::CACHE_HITS_TOTAL,
        catalog::DB_POOL_CONNECTIONS,
        catalog::TASKS_DEPTH,
        catalog::PROCESS_RESIDENT_MEMORY_BYTES,
    ] {
        assert!(
            queried.contains(needed.name),
            "the dashboard does not show {}",
            needed.name
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A metric a crate emits and the catalogue does not know would be missing from OPERATIONS.md
/// and from every dashboard: the library sources of every crate and binary that use the
/// `metrics` facade are searched for `"finstage_…"` literals.
#[test]
fn every_metric_name_in_the_workspace_sources_is_catalogued() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for group in ["crates", "bins"] {
        let Ok(members) = std::fs::read_dir(root.join(group)) else {
            continue;
        };
        for member in members.flatten() {
            if member.file_name() != "monitoring" {
                rust_files(&member.path().join("src"), &mut files);
            }
        }
    }
    assert!(files.len() > 20, "the workspace's sources were found: {files:?}");
    let mut unknown = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Files that do not use the `metrics` facade name other things (a pub/sub channel).
        if !text.contains("metrics::") {
            continue;
        }
        for name in metric_names(&text) {
            let literal = format!("\"{name}\"");
            if text.contains(&literal) && catalog::lookup(&name).is_none() {
                unknown.push(format!("{}: {name}", file.display()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "add these to the catalogue and OPERATIONS.md: {unknown:#?}"
    );
}
