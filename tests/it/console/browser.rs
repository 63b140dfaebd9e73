//! A minimal cookie-keeping HTTP "browser" for the console tests: follows redirects across
//! the daemon's listeners, keeps cookies by name, fills the real login form.

use std::collections::BTreeMap;

use crate::common::http::{self, Response, Target};

pub struct Browser {
    /// Listener port -> target.
    targets: BTreeMap<u16, Target>,
    pub port: u16,
    pub cookies: BTreeMap<String, String>,
}

/// The value of `name="<field>" value="..."` in a page.
pub fn field(body: &str, name: &str) -> Option<String> {
    body.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_owned)
}

impl Browser {
    pub fn new(ports: &[u16]) -> Browser {
        Browser {
            targets: ports
                .iter()
                .map(|p| (*p, Target::tcp(([127, 0, 0, 1], *p).into())))
                .collect(),
            port: ports[0],
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> Vec<String> {
        if self.cookies.is_empty() {
            return Vec::new();
        }
        let all: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        vec![format!("Cookie: {}", all.join("; "))]
    }

    fn keep(&mut self, res: &Response) {
        for raw in &res.set_cookies {
            let Some((k, v)) = raw.split(';').next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let gone = v.trim().is_empty() || raw.to_ascii_lowercase().contains("max-age=0");
            if gone {
                self.cookies.remove(k.trim());
            } else {
                self.cookies
                    .insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }

    /// Resolves an absolute or relative location to (port, path+query).
    fn locate(&self, location: &str) -> (u16, String) {
        let base = url::Url::parse(&format!("http://127.0.0.1:{}/", self.port)).unwrap();
        let u = base.join(location).unwrap();
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        };
        (u.port().unwrap_or(80), path)
    }

    pub fn request(&mut self, method: &str, location: &str, form: Option<&str>) -> Response {
        let (port, path) = self.locate(location);
        self.port = port;
        let target = &self.targets[&port];
        let res = http::send(target, method, &path, &self.cookie_header(), form).unwrap();
        self.keep(&res);
        res
    }

    pub fn get(&mut self, location: &str) -> Response {
        self.request("GET", location, None)
    }

    /// Follows redirects (and the console's "continue" page) from `res`; returns the last
    /// response and the URL it answered.
    pub fn follow(&mut self, mut res: Response, mut at: String) -> (Response, String) {
        for _ in 0..10 {
            if (300..400).contains(&res.status) {
                let to = res
                    .header("location")
                    .expect("redirect without location")
                    .to_owned();
                at = to.clone();
                res = self.get(&to);
            } else if res.status == 200 && res.body.contains("id=\"continue\"") {
                let to = field_href(&res.body).expect("continue link");
                at = to.clone();
                res = self.get(&to);
            } else {
                return (res, at);
            }
        }
        panic!("too many redirects at {at}");
    }

    pub fn open(&mut self, location: &str) -> (Response, String) {
        let res = self.get(location);
        self.follow(res, location.to_owned())
    }

    /// Opens `location` and signs in on the tenant's real login page when sent there.
    pub fn sign_in(&mut self, location: &str, email: &str, password: &str) -> Response {
        let (page, at) = self.open(location);
        assert!(
            at.contains("/login"),
            "expected the login page, got {at}: {} {}",
            page.status,
            page.body
        );
        let csrf = field(&page.body, "csrf").expect("csrf field");
        let return_to = at
            .split("return_to=")
            .nth(1)
            .map(|s| s.split('&').next().unwrap_or(s).to_owned())
            .expect("return_to");
        let action = at.split('?').next().unwrap().to_owned();
        let form = format!(
            "email={}&password={}&csrf={csrf}&return_to={return_to}",
            crate::login_pages::urlencode(email),
            crate::login_pages::urlencode(password)
        );
        let res = self.request("POST", &action, Some(&form));
        self.follow(res, action).0
    }
}

fn field_href(body: &str) -> Option<String> {
    body.split("id=\"continue\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| {
            s.replace("&amp;", "&")
                .replace("&#38;", "&")
                .replace("&#x2f;", "/")
                .replace("&#47;", "/")
        })
}
