//! Reads systemd-style environment files (`EnvironmentFile=`): `KEY=VALUE` lines, `#`
//! comments, optional single or double quotes. Used to re-read settings on SIGHUP.

use std::collections::BTreeMap;
use std::path::Path;

pub fn read(path: &Path) -> std::io::Result<BTreeMap<String, String>> {
    Ok(parse(&std::fs::read_to_string(path)?))
}

pub fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_comments_and_quotes() {
        let m = super::parse("# c\nOPENTRUSTY_LOG=\"debug\"\n\nA='x y'\nB=plain\n");
        assert_eq!(m["OPENTRUSTY_LOG"], "debug");
        assert_eq!(m["A"], "x y");
        assert_eq!(m["B"], "plain");
        assert_eq!(m.len(), 3);
    }
}
