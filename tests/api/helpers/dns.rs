//! A tiny authoritative DNS server on a loopback UDP port that answers TXT questions from
//! a table the test controls (names it does not know get NXDOMAIN). The application under
//! test asks it through `--dns-resolver`, so ownership checks run a real DNS exchange
//! through the real resolver crate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

/// The server's address and its table.
#[derive(Clone)]
pub struct TestDns {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
    questions: Arc<AtomicUsize>,
}

impl TestDns {
    /// Binds a loopback port and answers until the test's runtime ends.
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS");
        let addr = socket.local_addr().expect("DNS address");
        let dns = Self {
            addr,
            records: Arc::default(),
            questions: Arc::default(),
        };
        let table = dns.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                if let Some(answer) = table.answer(&buf[..n]) {
                    let _ = socket.send_to(&answer, from).await;
                }
            }
        });
        dns
    }

    /// Makes `name` answer these TXT values (replacing what it had); an empty list makes it
    /// unknown again.
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        let mut records = self.records.lock().unwrap();
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        if values.is_empty() {
            records.remove(&key);
        } else {
            records.insert(key, values.iter().map(|v| (*v).to_owned()).collect());
        }
    }

    /// How many questions arrived so far.
    pub fn questions(&self) -> usize {
        self.questions.load(Ordering::SeqCst)
    }

    /// The response to one query packet, written by hand (RFC 1035 §4).
    fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        if query.len() < 12 {
            return None;
        }
        self.questions.fetch_add(1, Ordering::SeqCst);
        // The question: labels up to the root, then type and class.
        let mut i = 12;
        let mut labels = Vec::new();
        loop {
            let len = *query.get(i)? as usize;
            i += 1;
            if len == 0 {
                break;
            }
            labels.push(String::from_utf8_lossy(query.get(i..i + len)?).to_ascii_lowercase());
            i += len;
        }
        let qtype = u16::from_be_bytes([*query.get(i)?, *query.get(i + 1)?]);
        let question = query.get(12..i + 4)?;
        let name = labels.join(".");
        let values = self.records.lock().unwrap().get(&name).cloned();
        let answers: Vec<String> = match (&values, qtype) {
            (Some(v), 16) => v.clone(),
            _ => Vec::new(),
        };
        let rcode = if values.is_none() { 3 } else { 0 };
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&query[0..2]); // id
        out.push(0x85); // response, authoritative, recursion desired
        out.push(0x80 | rcode); // recursion available, rcode
        out.extend_from_slice(&1u16.to_be_bytes()); // one question
        out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]); // no authority, no additional
        out.extend_from_slice(question);
        for value in answers {
            let mut rdata = Vec::new();
            for chunk in value.as_bytes().chunks(255) {
                rdata.push(chunk.len() as u8);
                rdata.extend_from_slice(chunk);
            }
            out.extend_from_slice(&[0xc0, 0x0c]); // the question's name
            out.extend_from_slice(&16u16.to_be_bytes()); // TXT
            out.extend_from_slice(&1u16.to_be_bytes()); // IN
            out.extend_from_slice(&0u32.to_be_bytes()); // TTL 0: never cached
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(&rdata);
        }
        Some(out)
    }
}
