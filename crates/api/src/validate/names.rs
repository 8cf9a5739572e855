//! The name formats of Kubernetes' validation (apimachinery's `validation` package), with the
//! same limits, so that what Weft accepts a real API server accepts too.

/// RFC 1123 label: at most 63 lowercase alphanumerics or '-', starting and ending alphanumeric.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err(format!("{s:?} must be 1-63 characters long"));
    }
    let b = s.as_bytes();
    let ok = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. \"my-name\")"
        ))
    }
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err(format!("{s:?} must be 1-253 characters long"));
    }
    if s.split('.').all(|l| dns1123_label(l).is_ok()) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. \"example.com\")"
        ))
    }
}

/// RFC 1035 label, which Service names must be: a DNS label that starts with a letter.
pub fn dns1035_label(s: &str) -> Result<(), String> {
    dns1123_label(s)?;
    if s.as_bytes()[0].is_ascii_lowercase() {
        Ok(())
    } else {
        Err(format!("{s:?} must start with a letter (e.g. \"api\")"))
    }
}

/// IANA service name (RFC 6335 §5.1), the form of named ports: at most 15 lowercase
/// alphanumerics or '-', at least one letter, no leading, trailing or double '-'.
pub fn iana_svc_name(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = !s.is_empty()
        && s.len() <= 15
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.iter().any(|c| c.is_ascii_lowercase())
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !s.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid port name: at most 15 lowercase letters, digits and '-', with at least one letter (e.g. \"http\", \"serve-80-tcp\")"
        ))
    }
}

/// A label or annotation key: an optional DNS subdomain prefix and '/', then a name of at most
/// 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric.
pub fn qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        dns1123_subdomain(p)
            .map_err(|_| format!("{s:?}: the prefix {p:?} must be a DNS subdomain such as example.com"))?;
    }
    if name.is_empty() || name.len() > 63 || !label_value_chars(name) {
        return Err(format!(
            "{s:?} is not a valid key: the name part must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A label value: empty, or at most 63 alphanumerics, '-', '_' or '.', starting and ending
/// alphanumeric.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || (s.len() <= 63 && label_value_chars(s)) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a valid label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ))
    }
}

fn label_value_chars(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns1123_label("web-1").is_ok());
        assert!(dns1123_label("Web").is_err());
        assert!(dns1123_label("-a").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
        assert!(dns1123_subdomain("a.b-c.d").is_ok());
        assert!(dns1123_subdomain("a..b").is_err());
        assert!(dns1035_label("1api").is_err());
        assert!(iana_svc_name("serve-80-tcp").is_ok());
        assert!(iana_svc_name("80").is_err());
        assert!(iana_svc_name("a--b").is_err());
        assert!(iana_svc_name("sixteen-chars-xx").is_err());
        assert!(qualified_name("kubernetes.io/metadata.name").is_ok());
        assert!(qualified_name("app").is_ok());
        assert!(qualified_name("Bad_/x").is_err());
        assert!(qualified_name("a/").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("v1.2_beta").is_ok());
        assert!(label_value("-x").is_err());
    }
}
