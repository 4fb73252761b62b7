//! Rules about the source itself: modules import only lower layers, and
//! comments name only files that exist.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::{files_under, repo_root};

/// The crate's top-level modules, lowest layer first. Modules of one layer
/// never import each other: the leaves are independent, and so are `tree`
/// (writing the tree) and `report` (explaining profiles).
const LAYERS: &[&[&str]] = &[
    // The header of every generated file, which `yaml` and `templates` put
    // on and `tree` reads back.
    &["fingerprint"],
    &["contract", "yaml", "textdiff"],
    &["model"],
    &["profile"],
    &["templates"],
    &["objects"],
    &["kustomize"],
    &["tree", "report"],
    // `plan` compares the generated tree with the committed one on disk.
    &["plan"],
    // `cli` only declares the arguments that `commands` executes.
    &["cli"],
    &["commands"],
    &["main"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a source file belongs to: `src/objects/pod.rs` is in
/// `objects`, `src/yaml.rs` is `yaml`.
fn module_of(relative: &str) -> String {
    let inside = relative.strip_prefix("src/").expect("a file under src/");
    let first = inside.split('/').next().unwrap_or(inside);
    first.strip_suffix(".rs").unwrap_or(first).to_owned()
}

/// The source without `//` comments, so prose that mentions `crate::x`
/// is not mistaken for an import.
fn code_only(source: &str) -> String {
    source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules a source names through `crate::` paths, including
/// each member of a group such as `use crate::{kustomize, objects::Feature};`.
fn crate_imports(source: &str) -> BTreeSet<String> {
    let code = code_only(source);
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with('$') {
            continue;
        }
        let rest = code[at + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (index, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        let name = identifier(&group[index..]);
                        if !name.is_empty() {
                            found.insert(name.to_owned());
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = identifier(rest);
            if !name.is_empty() {
                found.insert(name.to_owned());
            }
        }
    }
    found
}

/// Every import of `source` (the file `relative`) that breaks the layering.
fn layering_violations(relative: &str, source: &str) -> Vec<String> {
    let module = module_of(relative);
    let Some(own) = layer_of(&module) else {
        return vec![format!(
            "{relative}: module `{module}` is in no layer of LAYERS"
        )];
    };
    crate_imports(source)
        .into_iter()
        .filter(|imported| *imported != module)
        .filter_map(|imported| match layer_of(&imported) {
            Some(layer) if layer < own => None,
            Some(layer) if layer == own => Some(format!(
                "{relative}: `{module}` imports `{imported}` of the same layer"
            )),
            Some(_) => Some(format!(
                "{relative}: `{module}` imports `{imported}` of a higher layer"
            )),
            None => Some(format!(
                "{relative}: `{module}` imports `{imported}`, which is in no layer of LAYERS"
            )),
        })
        .collect()
}

fn rust_sources(dir: &str) -> Vec<(String, String)> {
    let root = repo_root();
    files_under(&root, &root.join(dir))
        .into_iter()
        .filter(|path| path.ends_with(".rs"))
        .map(|path| {
            let text = fs::read_to_string(root.join(&path)).expect("readable source");
            (path, text)
        })
        .collect()
}

#[test]
fn modules_import_only_lower_layers() {
    let sources = rust_sources("src");
    assert!(sources.len() > 20, "found only {} sources", sources.len());
    let mut imports = 0;
    let mut violations = Vec::new();
    for (path, text) in &sources {
        imports += crate_imports(text).len();
        violations.extend(layering_violations(path, text));
    }
    assert!(imports > 50, "found only {imports} crate imports");
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let modules: BTreeSet<String> = rust_sources("src")
        .iter()
        .map(|(path, _)| module_of(path))
        .collect();
    let layered: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter())
        .map(|m| m.to_string())
        .collect();
    assert_eq!(modules, layered, "src/ modules vs LAYERS");
}

#[test]
fn the_layering_check_finds_upward_and_sibling_imports() {
    let source = "\
use crate::contract;
use crate::{kustomize::Overlay, objects::{self, Feature},
    yaml};
// use crate::commands is only prose
fn f() -> usize { crate::tree::generate::count() + crate::model::quantity::ONE }
";
    assert_eq!(
        crate_imports(source).into_iter().collect::<Vec<_>>(),
        ["contract", "kustomize", "model", "objects", "tree", "yaml"]
    );
    assert_eq!(
        layering_violations("src/objects/pod.rs", source),
        [
            "src/objects/pod.rs: `objects` imports `kustomize` of a higher layer",
            "src/objects/pod.rs: `objects` imports `tree` of a higher layer",
        ]
    );
    assert_eq!(
        layering_violations("src/report/show.rs", "use crate::tree::Tree;\n"),
        ["src/report/show.rs: `report` imports `tree` of the same layer"]
    );
    assert_eq!(
        layering_violations("src/yaml.rs", "use crate::textdiff;\n"),
        ["src/yaml.rs: `yaml` imports `textdiff` of the same layer"]
    );
    assert!(layering_violations("src/commands/build.rs", source).is_empty());
}

/// The repository's top-level directories that comments refer to.
const TOP_LEVEL: [&str; 8] = [
    "src/",
    "tests/",
    "templates/",
    "profiles/",
    "k8s/",
    "scripts/",
    "examples/",
    ".ci/",
];

/// Path-like words in `//` comments that start with a top-level directory
/// of the repository, with the line they are on.
fn commented_paths(source: &str) -> Vec<(usize, String)> {
    let part_of_path = |c: char| c.is_ascii_alphanumeric() || "_-./*<>".contains(c);
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let Some(at) = line.find("//") else { continue };
        let comment = &line[at + 2..];
        for (start, _) in comment.char_indices() {
            let rest = &comment[start..];
            let boundary = comment[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !part_of_path(c));
            let rest = rest.strip_prefix("./").unwrap_or(rest);
            if !boundary
                || !(TOP_LEVEL.iter().any(|top| rest.starts_with(top)) || names_a_root_file(rest))
            {
                continue;
            }
            let end = rest.find(|c| !part_of_path(c)).unwrap_or(rest.len());
            let path = rest[..end].trim_end_matches(['.', ':']);
            found.push((number + 1, path.to_owned()));
        }
    }
    found
}

/// Whether `text` starts with the kind of name a file at the repository's
/// root has (README.md, Cargo.toml), whether or not it is there.
fn names_a_root_file(text: &str) -> bool {
    let name: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
        .collect();
    let name = name.trim_end_matches('.');
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && [".md", ".toml", ".lock"]
            .iter()
            .any(|ext| name.ends_with(ext))
        && !text[name.len()..].starts_with('/')
}

/// Whether `pattern` names a file or directory of `files` (repository paths);
/// `*` and `<placeholder>` stand for any part of one path segment.
fn names_a_repository_path(pattern: &str, files: &[String]) -> bool {
    let pattern = pattern.trim_end_matches('/');
    let segments: Vec<&str> = pattern.split('/').collect();
    files.iter().any(|file| {
        let parts: Vec<&str> = file.split('/').collect();
        parts.len() >= segments.len()
            && segments
                .iter()
                .zip(&parts)
                .all(|(segment, part)| segment_matches(segment, part))
    })
}

fn segment_matches(segment: &str, part: &str) -> bool {
    let mut literal = String::new();
    let mut pieces = Vec::new();
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => pieces.push(std::mem::take(&mut literal)),
            '<' => {
                pieces.push(std::mem::take(&mut literal));
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                }
            }
            c => literal.push(c),
        }
    }
    if pieces.is_empty() {
        return segment == part;
    }
    pieces.push(literal);
    let (first, rest) = pieces.split_first().expect("pieces");
    let Some(mut remaining) = part.strip_prefix(first.as_str()) else {
        return false;
    };
    let last = rest.last().expect("a last piece");
    for piece in &rest[..rest.len() - 1] {
        match remaining.find(piece.as_str()) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last.as_str())
}

/// Files and directories of the repository (what git tracks would do too;
/// the build output and tool caches are left out).
fn repository_paths() -> Vec<String> {
    let root = repo_root();
    let mut files: Vec<String> = fs::read_dir(&root)
        .expect("the repository root")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    for top in TOP_LEVEL {
        let dir = root.join(top);
        if dir.is_dir() {
            files.extend(files_under(&root, &dir));
        }
    }
    files
}

#[test]
fn comments_name_only_files_in_the_repository() {
    let files = repository_paths();
    let mut named = 0;
    let mut missing = Vec::new();
    for dir in ["src", "tests"] {
        for (path, text) in rust_sources(dir) {
            for (line, token) in commented_paths(&text) {
                named += 1;
                if !names_a_repository_path(&token, &files) {
                    missing.push(format!("{path}:{line}: {token}"));
                }
            }
        }
    }
    assert!(named >= 5, "found only {named} file names in comments");
    assert!(
        missing.is_empty(),
        "comments name files that are not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_comment_check_finds_a_missing_file() {
    // Written with `%%` for the comment marker, so that this file's own
    // comment check does not read the examples as comments.
    let source = "\
let x = 1; %% from templates/foo.j2 and `profiles/builtin/base.yaml`.
%% see ./scripts/test.sh, tests/snapshots/*.snap and k8s/overlays/<profile>/
%%! doc comments count too: src/nowhere.rs
%% a path inside a word, like my-src/x.rs, or /tmp/src/x.rs, is not ours
%% tests/pg/mod.rs but not tests/pg/gone.rs
%% as README.md says, and DESIGN.md (not here); not a README.md/ path
"
    .replace("%%", "//");
    let found: Vec<String> = commented_paths(&source)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        found,
        [
            "templates/foo.j2",
            "profiles/builtin/base.yaml",
            "scripts/test.sh",
            "tests/snapshots/*.snap",
            "k8s/overlays/<profile>/",
            "src/nowhere.rs",
            "tests/pg/mod.rs",
            "tests/pg/gone.rs",
            "README.md",
            "DESIGN.md",
        ]
    );
    let files = repository_paths();
    let missing: Vec<&String> = found
        .iter()
        .filter(|p| !names_a_repository_path(p, &files))
        .collect();
    assert_eq!(
        missing,
        [
            "templates/foo.j2",
            "src/nowhere.rs",
            "tests/pg/gone.rs",
            "DESIGN.md"
        ]
    );
}
