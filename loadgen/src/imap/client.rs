//! The client side of one IMAP connection: tags, commands, and the untagged
//! data a session needs from the responses.
//!
//! [`ImapClient::command`] sends one tagged command and reads responses until
//! the tagged one with the same tag, keeping what the untagged ones carry in
//! a [`Collected`]: SEARCH numbers, FETCH counts, literal octets, and whether
//! a fetched literal contains [`super::APPEND_MARKER`]. EXISTS and EXPUNGE
//! responses keep [`ImapClient::exists`] current, and capability lists (in a
//! CAPABILITY response or a `[CAPABILITY ...]` response code) are kept for
//! [`ImapClient::has_capability`].

use std::net::SocketAddr;

use super::connection::{Connection, SessionError};
use super::response::{self, read_response, Kind, Response, ResponseOutcome, Status};
use super::APPEND_MARKER;

/// Data from the untagged responses of one command.
#[derive(Debug, Default)]
pub struct Collected {
    /// Numbers of the SEARCH responses.
    pub search: Vec<u32>,
    /// FETCH responses received.
    pub fetches: u32,
    /// Octets of literal data received.
    pub literal_bytes: u64,
    /// Whether a literal contained [`APPEND_MARKER`], ignoring ASCII case.
    pub marker_seen: bool,
    /// Untagged responses with at least one literal, such as a FETCH of a
    /// header section. Flag updates that other sessions cause have none.
    pub literal_responses: u32,
    /// Of those, the ones with a literal that contained [`APPEND_MARKER`].
    pub marker_responses: u32,
}

/// The final response of a command and what came before it.
#[derive(Debug)]
pub struct Completion {
    pub status: Status,
    /// Text of the tagged response, for error messages.
    pub text: String,
    pub collected: Collected,
}

impl Completion {
    /// Returns whether the command completed with OK.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}

/// An IMAP connection after its greeting.
pub struct ImapClient {
    connection: Connection,
    next_tag: u32,
    /// Messages in the selected mailbox, as the server last reported.
    pub exists: u32,
    /// The last capability list the server sent, upper-cased.
    capabilities: Vec<u8>,
}

impl ImapClient {
    /// Connects to `target` and reads the greeting, which must be `* OK` or `* PREAUTH`.
    pub async fn connect(target: SocketAddr) -> Result<Self, SessionError> {
        let connection = Connection::connect(target).await?;
        let mut client = ImapClient {
            connection,
            next_tag: 1,
            exists: 0,
            capabilities: Vec::new(),
        };

        let response = client.next_response("greeting").await?;
        let input = client.connection.buffered();
        let greeting = match &response.kind {
            Kind::Untagged { rest } => input[rest.clone()].to_vec(),
            _ => Vec::new(),
        };
        client.connection.consume(response.len);

        let status = greeting
            .split(|&byte| byte == b' ')
            .next()
            .and_then(response::parse_status);
        if !matches!(status, Some(Status::Ok | Status::Preauth)) {
            return Err(SessionError::Rejected {
                step: "greeting",
                text: String::from_utf8_lossy(&greeting).into_owned(),
            });
        }
        client.note_capabilities(&greeting);
        Ok(client)
    }

    /// Returns whether the server announced `capability` (ASCII case ignored).
    pub fn has_capability(&self, capability: &str) -> bool {
        response::has_capability(&self.capabilities, capability)
    }

    /// Returns whether any capability list was seen yet.
    pub fn knows_capabilities(&self) -> bool {
        !self.capabilities.is_empty()
    }

    /// Sends `TAG command` and reads until its tagged response.
    pub async fn command(
        &mut self,
        command: &[u8],
        waiting_for: &'static str,
    ) -> Result<Completion, SessionError> {
        let tag = self.write_tag();
        self.connection.output().extend_from_slice(command);
        self.connection.output().extend_from_slice(b"\r\n");
        self.connection.flush(waiting_for).await?;
        self.read_completion(&tag, waiting_for).await
    }

    /// Sends `TAG APPEND mailbox (flags) {N}` and the message as a literal:
    /// non-synchronizing (RFC 7888) when the server has LITERAL+, else after
    /// the server's continuation request.
    pub async fn append(
        &mut self,
        arguments: &[u8],
        message: &[u8],
    ) -> Result<Completion, SessionError> {
        let waiting_for = "APPEND response";
        let literal_plus = self.has_capability("LITERAL+");
        let tag = self.write_tag();
        let output = self.connection.output();
        output.extend_from_slice(b"APPEND ");
        output.extend_from_slice(arguments);
        let plus = if literal_plus { "+" } else { "" };
        output.extend_from_slice(format!(" {{{}{plus}}}\r\n", message.len()).as_bytes());

        if !literal_plus {
            self.connection.flush(waiting_for).await?;
            if let Some(completion) = self.read_continuation(&tag, waiting_for).await? {
                return Ok(completion);
            }
        }

        self.connection.output().extend_from_slice(message);
        self.connection.output().extend_from_slice(b"\r\n");
        self.connection.flush(waiting_for).await?;
        self.read_completion(&tag, waiting_for).await
    }

    /// Appends the next tag and a space to the output, and returns the tag.
    fn write_tag(&mut self) -> String {
        let tag = format!("a{}", self.next_tag);
        self.next_tag = self.next_tag.wrapping_add(1);
        self.connection.output().extend_from_slice(tag.as_bytes());
        self.connection.output().push(b' ');
        tag
    }

    /// Reads until the continuation request of an APPEND. Returns the
    /// completion instead when the server rejected the command at once.
    async fn read_continuation(
        &mut self,
        tag: &str,
        waiting_for: &'static str,
    ) -> Result<Option<Completion>, SessionError> {
        let mut collected = Collected::default();
        loop {
            let response = self.next_response(waiting_for).await?;
            if response.kind == Kind::Continuation {
                self.connection.consume(response.len);
                return Ok(None);
            }
            let completion = self.handle(&response, tag, &mut collected);
            self.connection.consume(response.len);
            if let Some((status, text)) = completion {
                return Ok(Some(Completion {
                    status,
                    text,
                    collected,
                }));
            }
        }
    }

    /// Reads responses until the tagged response with `tag`.
    async fn read_completion(
        &mut self,
        tag: &str,
        waiting_for: &'static str,
    ) -> Result<Completion, SessionError> {
        let mut collected = Collected::default();
        loop {
            let response = self.next_response(waiting_for).await?;
            let completion = self.handle(&response, tag, &mut collected);
            self.connection.consume(response.len);
            if let Some((status, text)) = completion {
                return Ok(Completion {
                    status,
                    text,
                    collected,
                });
            }
        }
    }

    /// Waits until one whole response is buffered and returns it, unconsumed.
    async fn next_response(&mut self, waiting_for: &'static str) -> Result<Response, SessionError> {
        loop {
            match read_response(self.connection.buffered()).map_err(SessionError::Response)? {
                ResponseOutcome::Complete(response) => return Ok(response),
                ResponseOutcome::NeedMore => self.connection.fill(waiting_for).await?,
            }
        }
    }

    /// Takes what a session needs from one response. Returns the status and
    /// text when it is the tagged response with `tag`.
    fn handle(
        &mut self,
        response: &Response,
        tag: &str,
        collected: &mut Collected,
    ) -> Option<(Status, String)> {
        let input = self.connection.buffered();
        let mut marked = false;
        for literal in &response.literals {
            let data = &input[literal.clone()];
            collected.literal_bytes += data.len() as u64;
            marked |= contains_ignore_case(data, APPEND_MARKER.as_bytes());
        }
        if !response.literals.is_empty() {
            collected.literal_responses += 1;
        }
        if marked {
            collected.marker_seen = true;
            collected.marker_responses += 1;
        }

        match &response.kind {
            Kind::Continuation => None,
            Kind::Untagged { rest } => {
                let rest = input[rest.clone()].to_vec();
                self.handle_untagged(&rest, collected);
                None
            }
            Kind::Tagged {
                tag: seen,
                status,
                text,
            } => {
                if &input[seen.clone()] != tag.as_bytes() {
                    return None;
                }
                let text = input[text.clone()].to_vec();
                self.note_capabilities(&text);
                Some((*status, String::from_utf8_lossy(&text).into_owned()))
            }
        }
    }

    fn handle_untagged(&mut self, rest: &[u8], collected: &mut Collected) {
        if let Some(numbers) = response::search_numbers(rest) {
            collected.search.extend(numbers);
            return;
        }
        if let Some((number, word)) = response::numbered(rest) {
            match word.as_str() {
                "EXISTS" => self.exists = number,
                "EXPUNGE" => self.exists = self.exists.saturating_sub(1),
                "FETCH" => collected.fetches += 1,
                _ => {}
            }
            return;
        }
        self.note_capabilities(rest);
    }

    /// Keeps a capability list found in `text`.
    fn note_capabilities(&mut self, text: &[u8]) {
        let upper = text.to_ascii_uppercase();
        if upper.starts_with(b"CAPABILITY ") || contains_ignore_case(&upper, b"[CAPABILITY ") {
            self.capabilities = upper;
        }
    }
}

/// Returns whether `haystack` contains `needle`, ignoring ASCII case.
pub fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

/// Appends `text` as an IMAP quoted string, escaping `\` and `"`.
pub fn write_quoted(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for byte in text.bytes() {
        if byte == b'\\' || byte == b'"' {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}
