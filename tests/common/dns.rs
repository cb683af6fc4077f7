//! A real DNS server for the tests (UDP, on loopback): it answers TXT queries from the
//! records a test sets, and NXDOMAIN otherwise.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

#[derive(Clone)]
pub struct DnsServer {
    pub addr: SocketAddr,
    txt: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl DnsServer {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let txt: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let records = txt.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut answer = Message::new();
                answer
                    .set_id(query.id())
                    .set_message_type(MessageType::Response)
                    .set_op_code(query.op_code())
                    .set_recursion_desired(query.recursion_desired())
                    .set_recursion_available(true)
                    .set_authoritative(true);
                answer.add_queries(query.queries().to_vec());
                let mut found = false;
                for q in query.queries() {
                    let name = q.name().to_ascii().trim_end_matches('.').to_lowercase();
                    if q.query_type() == RecordType::TXT
                        && let Some(values) = records.lock().unwrap().get(&name)
                    {
                        for v in values {
                            answer.add_answer(Record::from_rdata(
                                q.name().clone(),
                                60,
                                RData::TXT(TXT::new(vec![v.clone()])),
                            ));
                            found = true;
                        }
                    }
                }
                if !found {
                    answer.set_response_code(ResponseCode::NXDomain);
                }
                if let Ok(bytes) = answer.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        DnsServer { addr, txt }
    }

    pub fn set_txt(&self, name: &str, value: &str) {
        self.txt
            .lock()
            .unwrap()
            .entry(name.to_lowercase())
            .or_default()
            .push(value.to_string());
    }
}
