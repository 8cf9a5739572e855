//! Every example manifest in the repository round-trips YAML -> model -> YAML unchanged, and every
//! manifest under examples/invalid is rejected with the error its `# expect:` line names.

use std::fs;
use std::path::{Path, PathBuf};

use weft_api::manifest;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn examples_round_trip() {
    let files = yaml_files(&examples_dir());
    assert!(files.len() >= 5, "expected the example manifests, found {files:?}");
    let mut objects = 0;
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let source = file.display().to_string();
        let inputs = manifest::documents(&text, &source).unwrap();
        let parsed = manifest::parse(&text, &source).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(inputs.len(), parsed.len());
        for (input, resource) in inputs.iter().zip(&parsed) {
            // YAML -> model -> YAML -> value: nothing added, nothing lost.
            let yaml = resource.to_yaml();
            let again = manifest::documents(&yaml, "round trip").unwrap();
            assert_eq!(
                &again[0],
                input,
                "{source}: {} changed in a round trip:\n{yaml}",
                resource.key()
            );
            // And the YAML parses back to the same typed object.
            let reparsed = manifest::parse(&yaml, "round trip").unwrap();
            assert_eq!(&reparsed[0], resource);
            objects += 1;
        }
    }
    assert!(objects >= 10, "only {objects} example objects");
}

#[test]
fn invalid_examples_name_the_field() {
    let files = yaml_files(&examples_dir().join("invalid"));
    assert!(files.len() >= 10);
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no '# expect:' line", file.display()));
        match manifest::parse(&text, &file.display().to_string()) {
            Ok(r) => panic!("{} was accepted: {r:?}", file.display()),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains(expect),
                    "{}:\n  expected: {expect}\n  got:      {message}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn every_error_is_reported_at_once() {
    let text = "apiVersion: weft.io/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: Blue}\nspec:\n  vni: 0\n  subnets: [10.0.0.0/8, 10.1.0.0/16]\n  exportRouteTargets: [x]\n";
    let err = manifest::parse(text, "-").unwrap_err().to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(lines.iter().all(|l| l.starts_with("VirtualNetwork/Blue: ")), "{err}");
    assert!(err.contains("metadata.name: "));
    assert!(err.contains("spec.vni: 0 is not a valid VNI"));
    assert!(err.contains("spec.subnets[1]: 10.1.0.0/16 overlaps spec.subnets[0] (10.0.0.0/8)"));
    assert!(err.contains("spec.exportRouteTargets[0]: \"x\" is not a valid route target"));
}

#[test]
fn lists_and_json_are_read() {
    let json = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}},
        {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}]}"#;
    let parsed = manifest::parse(json, "-").unwrap();
    assert_eq!(parsed.iter().map(|r| r.name()).collect::<Vec<_>>(), ["a", "b"]);
    let err = manifest::parse("a: [", "bad.yaml").unwrap_err().to_string();
    assert!(err.starts_with("bad.yaml (document 1): "), "{err}");
}
