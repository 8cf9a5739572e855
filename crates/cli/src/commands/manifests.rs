//! Reading manifests from files, directories and stdin, as `kubectl apply -f` does.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use weft_api::{Kind, ManifestError, Resource, manifest};

use crate::exit::{self, Exit};

/// Files to read: a file as given, a directory's .yaml/.yml/.json files in name order
/// (subdirectories with `recursive`), `-` for stdin.
fn expand(paths: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" || !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() {
                if recursive {
                    out.extend(expand(&[entry], true)?);
                }
            } else if entry
                .extension()
                .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
            {
                out.push(entry);
            }
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            exit::NOT_FOUND
        } else {
            exit::FAILURE
        };
        Exit::new(code, format!("cannot read {}: {e}", path.display())).into()
    })
}

/// Every object of every file, validated, with namespaces defaulted from `-n`. If any file is
/// invalid, all problems are reported and nothing is returned: nothing gets half-applied.
pub fn load(paths: &[PathBuf], recursive: bool, namespace: &str, namespace_given: bool) -> Result<Vec<Resource>> {
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    for path in expand(paths, recursive)? {
        let text = read(&path)?;
        match manifest::parse(&text, &path.display().to_string()) {
            Ok(parsed) => objects.extend(parsed),
            Err(e @ ManifestError::Syntax { .. }) => problems.push(e.to_string()),
            Err(e) => problems.extend(e.to_string().lines().map(|l| format!("{}: {l}", path.display()))),
        }
    }
    if !problems.is_empty() {
        return Err(Exit::new(exit::INVALID, format!("{}\nnothing was applied", problems.join("\n"))).into());
    }
    for object in &mut objects {
        let kind = object.kind();
        let key = object.key();
        let meta = object.meta_mut();
        match (&meta.namespace, kind.namespaced()) {
            (None, true) => meta.namespace = Some(namespace.to_string()),
            (Some(ns), true) if namespace_given && ns != namespace => {
                return Err(Exit::new(
                    exit::INVALID,
                    format!(
                        "{}: the manifest says namespace {ns:?} but -n says {namespace:?}; remove one",
                        key
                    ),
                )
                .into());
            }
            _ => {}
        }
    }
    Ok(objects)
}

/// Objects that others depend on go first: the Cluster, then namespaces and networks, then the
/// rest in the order written (as Helm orders an install).
pub fn dependency_order(objects: &mut [Resource]) {
    objects.sort_by_key(|o| match o.kind() {
        Kind::Cluster => 0,
        Kind::Namespace => 1,
        Kind::VirtualNetwork => 2,
        _ => 3,
    });
}
