//! The wire protocol: one request per line, one reply per line.
//!
//! ```text
//! GET <key>              VALUE <value> | NOT_FOUND
//! SET <key> <value>      OK              (value: the rest of the line)
//! DEL <key>              OK | NOT_FOUND
//! HOLD <ms>              OK              (holds a write permit for <ms>)
//! STATS                  STATS keys=.. requests=.. ...
//! SHUTDOWN               OK shutting down
//! PANIC                  (the handler panics; with --faults only)
//! @<ms> <request>        the request with a deadline of <ms> (capped)
//! ```
//!
//! Every failure is one line, `ERR <reason>`.

use std::fmt;
use std::time::Duration;

/// One parsed request line.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The deadline the client asked for with `@<ms>`, if any.
    pub timeout: Option<Duration>,
    /// What to do.
    pub command: Command<'a>,
}

/// A request's command, borrowing from the line.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `GET key`
    Get(&'a str),
    /// `SET key value`
    Set(&'a str, &'a str),
    /// `DEL key`
    Del(&'a str),
    /// `HOLD ms`: take a write permit and keep it for a while, as a slow
    /// write would (for deadlines and drains to act on).
    Hold(Duration),
    /// `STATS`
    Stats,
    /// `SHUTDOWN`
    Shutdown,
    /// `PANIC`: a handler bug, on demand.
    Panic,
}

impl Command<'_> {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Get(_) => "GET",
            Command::Set(..) => "SET",
            Command::Del(_) => "DEL",
            Command::Hold(_) => "HOLD",
            Command::Stats => "STATS",
            Command::Shutdown => "SHUTDOWN",
            Command::Panic => "PANIC",
        }
    }

    /// Whether the command changes the store (and so takes a write permit).
    pub fn writes(&self) -> bool {
        matches!(self, Command::Set(..) | Command::Del(_) | Command::Hold(_))
    }
}

/// Why a line is not a request.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but white space.
    Empty,
    /// A command this server does not know.
    Unknown(String),
    /// A known command with missing or extra arguments.
    Usage(&'static str),
    /// `@` or `HOLD` followed by something other than milliseconds.
    BadMillis,
    /// Bytes that are not UTF-8.
    NotUtf8,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty request"),
            ParseError::Unknown(c) => write!(f, "unknown command {c:?}"),
            ParseError::Usage(u) => write!(f, "usage: {u}"),
            ParseError::BadMillis => f.write_str("expected milliseconds"),
            ParseError::NotUtf8 => f.write_str("request is not UTF-8"),
        }
    }
}

impl<'a> Request<'a> {
    /// Parses one line of bytes (its line ending included or not).
    pub fn parse_bytes(line: &'a [u8]) -> Result<Self, ParseError> {
        std::str::from_utf8(line)
            .map_err(|_| ParseError::NotUtf8)
            .and_then(Request::parse)
    }

    /// Parses one line (its line ending included or not).
    pub fn parse(line: &'a str) -> Result<Self, ParseError> {
        let mut rest = line.trim();
        let mut timeout = None;
        if let Some(after) = rest.strip_prefix('@') {
            let (ms, tail) = split_word(after);
            timeout = Some(millis(ms)?);
            rest = tail;
        }
        let (word, args) = split_word(rest);
        let command = match word.to_ascii_uppercase().as_str() {
            "" => return Err(ParseError::Empty),
            "GET" => Command::Get(one_word(args, "GET <key>")?),
            "DEL" => Command::Del(one_word(args, "DEL <key>")?),
            "SET" => match split_word(args) {
                (key, value) if !key.is_empty() && !value.is_empty() => Command::Set(key, value),
                _ => return Err(ParseError::Usage("SET <key> <value>")),
            },
            "HOLD" => Command::Hold(millis(one_word(args, "HOLD <ms>")?)?),
            "STATS" => no_args(args, Command::Stats, "STATS")?,
            "SHUTDOWN" => no_args(args, Command::Shutdown, "SHUTDOWN")?,
            "PANIC" => no_args(args, Command::Panic, "PANIC")?,
            _ => return Err(ParseError::Unknown(word.to_owned())),
        };
        Ok(Request { timeout, command })
    }
}

/// The first word and the trimmed rest.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    }
}

fn one_word<'a>(args: &'a str, usage: &'static str) -> Result<&'a str, ParseError> {
    match split_word(args) {
        (word, "") if !word.is_empty() => Ok(word),
        _ => Err(ParseError::Usage(usage)),
    }
}

fn no_args<'a>(
    args: &str,
    command: Command<'a>,
    usage: &'static str,
) -> Result<Command<'a>, ParseError> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(ParseError::Usage(usage))
    }
}

fn millis(s: &str) -> Result<Duration, ParseError> {
    s.parse()
        .map(Duration::from_millis)
        .map_err(|_| ParseError::BadMillis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command<'_> {
        Request::parse(line).unwrap().command
    }

    #[test]
    fn commands_parse() {
        assert_eq!(cmd("GET a\n"), Command::Get("a"));
        assert_eq!(
            cmd("set a hello world\r\n"),
            Command::Set("a", "hello world")
        );
        assert_eq!(cmd("DEL a"), Command::Del("a"));
        assert_eq!(cmd("HOLD 250"), Command::Hold(Duration::from_millis(250)));
        assert_eq!(cmd(" stats "), Command::Stats);
        assert_eq!(cmd("SHUTDOWN"), Command::Shutdown);
        assert_eq!(cmd("PANIC"), Command::Panic);
    }

    #[test]
    fn deadline_prefix() {
        let r = Request::parse("@0 GET a").unwrap();
        assert_eq!(r.timeout, Some(Duration::ZERO));
        assert_eq!(r.command, Command::Get("a"));
        assert_eq!(Request::parse("@x GET a"), Err(ParseError::BadMillis));
    }

    #[test]
    fn bad_lines_say_why() {
        assert_eq!(Request::parse("  \n"), Err(ParseError::Empty));
        assert_eq!(
            Request::parse("FLY away").unwrap_err().to_string(),
            "unknown command \"FLY\""
        );
        assert_eq!(
            Request::parse("GET").unwrap_err().to_string(),
            "usage: GET <key>"
        );
        assert_eq!(
            Request::parse("SET a").unwrap_err(),
            ParseError::Usage("SET <key> <value>")
        );
        assert_eq!(
            Request::parse("STATS now").unwrap_err(),
            ParseError::Usage("STATS")
        );
        assert_eq!(Request::parse("HOLD -1"), Err(ParseError::BadMillis));
        assert_eq!(
            Request::parse_bytes(b"GET \xff\n"),
            Err(ParseError::NotUtf8)
        );
        assert_eq!(
            Request::parse_bytes(b"GET a\n").unwrap().command,
            Command::Get("a")
        );
    }
}
