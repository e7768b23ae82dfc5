//! Shared by the bench binaries: percentiles and the release simulator as the peer.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Sorted copy's p50, p99 and mean.
pub fn summary(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    (percentile(&samples, 0.5), percentile(&samples, 0.99), mean)
}

/// `target/release/miic-cli sim` on a free loopback port: the child, its URL and public key.
pub fn start_sim() -> (Child, String, String) {
    let target = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let mut sim = Command::new(target.join("miic-cli"))
        .args(["sim", "--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("target/release/miic-cli (run scripts/bench.sh)");
    let mut line = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let key = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("public_key="))
        .unwrap()
        .to_owned();
    (sim, url, key)
}
