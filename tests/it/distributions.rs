//! Key distributions, checked statistically with fixed seeds: the checks
//! are deterministic, and their thresholds are set so that a correct
//! generator passes with a wide margin while a wrong shape fails.

use std::collections::HashMap;

use tikv_bench::vocab::rng::rng_for;
use tikv_bench::workload::keys::{KeyChooser, SharedKeys};

use crate::util::workload;

fn chooser(keys: &str) -> (KeyChooser, std::sync::Arc<SharedKeys>) {
    let w = workload(&format!(
        "name: d\nkeys: {{{keys}}}\nops:\n  - {{type: get, weight: 1}}\n"
    ));
    let shared = SharedKeys::new(&w.keys);
    (KeyChooser::new(&w.keys, shared.clone()), shared)
}

fn sample(keys: &str, n: usize) -> Vec<u64> {
    let (mut c, _) = chooser(keys);
    let mut rng = rng_for(2026, 0);
    (0..n).map(|_| c.next(&mut rng)).collect()
}

fn counts(xs: &[u64]) -> HashMap<u64, u64> {
    let mut m = HashMap::new();
    for &x in xs {
        *m.entry(x).or_insert(0) += 1;
    }
    m
}

/// Pearson's chi-square statistic of observed counts against expected
/// probabilities (which must sum to 1).
fn chi_square(observed: &[u64], expected_p: &[f64]) -> f64 {
    let n: u64 = observed.iter().sum();
    observed
        .iter()
        .zip(expected_p)
        .map(|(&o, &p)| {
            let e = p * n as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

/// Zipf probabilities of ranks 1..=n.
fn zipf_p(n: u64, theta: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=n).map(|r| (r as f64).powf(-theta)).collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// Buckets ranks 1..=40 one by one and the tail in ten groups, so every
/// bucket expects plenty of samples.
fn zipf_buckets(by_rank: &[u64], p: &[f64]) -> (Vec<u64>, Vec<f64>) {
    let head = 40;
    let mut obs: Vec<u64> = by_rank[..head].to_vec();
    let mut exp: Vec<f64> = p[..head].to_vec();
    let tail = by_rank.len() - head;
    for g in 0..10 {
        let (a, b) = (head + g * tail / 10, head + (g + 1) * tail / 10);
        obs.push(by_rank[a..b].iter().sum());
        exp.push(p[a..b].iter().sum());
    }
    (obs, exp)
}

// Chi-square critical value for 49 degrees of freedom at p = 0.001 is
// about 85.4; a correct generator sits near 49.
const CHI2_49_P001: f64 = 85.4;

#[test]
fn zipfian_rank_frequencies_follow_the_power_law() {
    let n = 1000;
    for theta in [0.6, 0.99, 1.2] {
        let xs = sample(
            &format!("records: {n}, distribution: zipfian, theta: {theta}, scramble: false"),
            200_000,
        );
        let c = counts(&xs);
        let by_rank: Vec<u64> = (0..n).map(|i| c.get(&i).copied().unwrap_or(0)).collect();
        let p = zipf_p(n, theta);
        let (obs, exp) = zipf_buckets(&by_rank, &p);
        let chi = chi_square(&obs, &exp);
        assert!(
            chi < CHI2_49_P001,
            "theta {theta}: chi-square {chi:.1} says the shape is wrong"
        );
        // The shape is not uniform, nor another theta's.
        let wrong = zipf_p(n, theta + 0.3);
        let (_, exp_wrong) = zipf_buckets(&by_rank, &wrong);
        assert!(
            chi_square(&obs, &exp_wrong) > 10.0 * CHI2_49_P001,
            "theta {theta} is indistinguishable from {}",
            theta + 0.3
        );
    }
}

#[test]
fn scrambled_zipfian_keeps_the_frequencies_but_moves_the_hot_keys() {
    let n = 1000;
    let plain = counts(&sample(
        &format!("records: {n}, distribution: zipfian, scramble: false"),
        100_000,
    ));
    let scrambled = counts(&sample(
        &format!("records: {n}, distribution: zipfian, scramble: true"),
        100_000,
    ));
    let mut a: Vec<u64> = plain.values().copied().collect();
    let mut b: Vec<u64> = scrambled.values().copied().collect();
    a.sort_unstable_by(|x, y| y.cmp(x));
    b.sort_unstable_by(|x, y| y.cmp(x));
    // The same random ranks are drawn, only mapped to other keys.
    assert_eq!(a, b);
    let hottest = scrambled
        .iter()
        .max_by_key(|(_, c)| **c)
        .map(|(k, _)| *k)
        .unwrap();
    assert_ne!(
        hottest, 0,
        "scrambling should move rank 1 away from index 0"
    );
    // The ten hottest keys are spread over the key space, not adjacent.
    let mut top: Vec<(u64, u64)> = scrambled.into_iter().collect();
    top.sort_unstable_by_key(|x| std::cmp::Reverse(x.1));
    let mut idx: Vec<u64> = top[..10].iter().map(|(k, _)| *k).collect();
    idx.sort_unstable();
    assert!(
        idx[9] - idx[0] > n / 2,
        "hot keys bunched together: {idx:?}"
    );
}

#[test]
fn hotspot_sends_the_configured_share_to_the_hot_set() {
    let n = 1000u64;
    let xs = sample(
        &format!("records: {n}, distribution: hotspot, hot_set: 0.1, hot_ops: 0.75"),
        100_000,
    );
    let hot = xs.iter().filter(|&&x| x < 100).count() as f64 / xs.len() as f64;
    // Binomial standard deviation here is about 0.0014.
    assert!((hot - 0.75).abs() < 0.008, "hot share {hot}");
    // Within each set, keys are uniform: no hot key gets twice its share.
    let c = counts(&xs);
    let hot_max = (0..100)
        .map(|i| c.get(&i).copied().unwrap_or(0))
        .max()
        .unwrap();
    assert!(
        hot_max < 2 * 750,
        "a hot key got {hot_max} of an expected 750"
    );
    assert!(xs.iter().all(|&x| x < n));
}

#[test]
fn uniform_is_flat() {
    let xs = sample("records: 100, distribution: uniform", 100_000);
    let c = counts(&xs);
    let obs: Vec<u64> = (0..100).map(|i| c.get(&i).copied().unwrap_or(0)).collect();
    let chi = chi_square(&obs, &[0.01; 100]);
    // 99 degrees of freedom: critical value at p = 0.001 is about 148.
    assert!(chi < 148.0, "chi-square {chi:.1}");
}

#[test]
fn latest_favours_the_newest_records_and_follows_inserts() {
    let (mut c, shared) = chooser("records: 1000, distribution: latest, theta: 0.99");
    let mut rng = rng_for(9, 0);
    let xs: Vec<u64> = (0..50_000).map(|_| c.next(&mut rng)).collect();
    let cnt = counts(&xs);
    let hottest = cnt
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(k, _)| *k)
        .unwrap();
    assert_eq!(hottest, 999);
    assert!(cnt[&999] > cnt[&998] && cnt[&998] > cnt.get(&990).copied().unwrap_or(0));
    // After 100 inserts the newest record is 1099, and it becomes the hottest.
    for _ in 0..100 {
        c.insert();
    }
    assert_eq!(shared.count(), 1100);
    let ys: Vec<u64> = (0..50_000).map(|_| c.next(&mut rng)).collect();
    let cnt = counts(&ys);
    let hottest = cnt
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(k, _)| *k)
        .unwrap();
    assert_eq!(hottest, 1099);
    assert!(ys.iter().all(|&y| y < 1100));
}

#[test]
fn sequential_walks_the_key_space_in_order_and_wraps() {
    let xs = sample("records: 5, distribution: sequential", 12);
    assert_eq!(xs, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
}
