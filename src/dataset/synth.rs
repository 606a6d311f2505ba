//! Deterministic building blocks of the dataset: a seeded RNG, weighted sampling, time-sorted
//! ids, and the small vocabularies rows are made of.

/// SplitMix64: tiny, fast and fixed forever (a library RNG may change its stream between
/// versions; the dataset of a seed must not).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`; `stream` separates independent sequences of one seed.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut r = Self(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: no modulo bias worth speaking of at these ranges.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn by integer weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < u64::from(*w) {
                return i;
            }
            x -= u64::from(*w);
        }
        weights.len().saturating_sub(1)
    }
}

/// Vose's alias table: O(1) draws from a fixed discrete distribution.
#[derive(Debug, Clone)]
pub struct Alias {
    prob: Vec<f64>,
    alias: Vec<u32>,
}

impl Alias {
    /// A table for `weights` (at least one positive).
    pub fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut prob = vec![1.0; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(l)) = (small.pop(), large.last().copied()) {
            prob[s] = scaled[s];
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        Self { prob, alias }
    }

    /// One index, drawn by weight.
    pub fn draw(&self, rng: &mut Rng) -> usize {
        let i = rng.below(self.prob.len() as u64) as usize;
        if rng.unit() < self.prob[i] {
            i
        } else {
            self.alias[i] as usize
        }
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// An id like the application's (`prefix_` + a lower-case ULID) whose time part is `ms`, so
/// generated rows sort by their own time, and whose random part comes from `rng`.
pub fn id(prefix: &str, ms: i64, rng: &mut Rng) -> String {
    let random = (u128::from(rng.next_u64()) << 16) ^ u128::from(rng.next_u64() & 0xFFFF);
    let value =
        (u128::from(ms.max(0) as u64 & 0xFFFF_FFFF_FFFF) << 80) | (random & ((1 << 80) - 1));
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    for i in (0..26).rev() {
        let shift = i * 5;
        out.push(CROCKFORD[((value >> shift) & 0x1F) as usize] as char);
    }
    out
}

/// 64 hex digits (the shape of a SHA-256 ip hash).
pub fn hex64(rng: &mut Rng) -> String {
    let mut s = String::with_capacity(64);
    for _ in 0..4 {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s
}

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// First names for generated people.
pub const FIRST: &[&str] = &[
    "ada", "alan", "amara", "anna", "ben", "carla", "chen", "dara", "david", "elena", "emma",
    "farid", "grace", "hana", "ivan", "jade", "jane", "jon", "kai", "lea", "leo", "lina", "marc",
    "maya", "mia", "nadia", "noah", "olga", "omar", "paul", "priya", "rosa", "sam", "sara", "theo",
    "uma", "vera", "wei", "yara", "zoe",
];

/// Last names for generated people.
pub const LAST: &[&str] = &[
    "adams", "bauer", "costa", "dubois", "evans", "fischer", "garcia", "hansen", "ito", "jensen",
    "khan", "larsen", "meyer", "novak", "okafor", "petrov", "quinn", "rossi", "silva", "tanaka",
    "ueda", "varga", "weber", "xu", "young", "zhang", "moreau", "nakamura", "oliveira", "kowalski",
    "lopez", "murphy", "nguyen", "patel", "reyes", "schmidt", "smith", "wilson", "walker", "kim",
];

/// Email domains of generated people.
pub const DOMAINS: &[&str] = &["example.com", "example.net", "example.org", "mail.example"];

/// User agents of generated clicks (bots flagged separately).
pub const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];

/// User agents of bot clicks.
pub const BOT_AGENTS: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
];

/// Referrers of generated clicks (`None`: direct).
pub const REFERRERS: &[Option<&str>] = &[
    None,
    Some("https://www.google.com/"),
    Some("https://www.youtube.com/"),
    Some("https://t.co/"),
    Some("https://www.reddit.com/"),
    Some("https://news.ycombinator.com/"),
];

/// Monthly plan prices (minor units) and how often each is bought.
pub const PLANS: &[(i64, u32)] = &[(2900, 30), (4900, 30), (9900, 25), (19900, 10), (49900, 5)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_look_like_the_applications() {
        let mut r = Rng::new(1, 0);
        let a = id("clk", 1_700_000_000_000, &mut r);
        let b = id("clk", 1_700_000_000_001, &mut r);
        assert!(a < b);
        assert_eq!(a.len(), 4 + 26);
        assert!(a.chars().skip(4).all(|c| CROCKFORD.contains(&(c as u8))));
        // The same seed gives the same ids.
        assert_eq!(
            id("x", 5, &mut Rng::new(7, 3)),
            id("x", 5, &mut Rng::new(7, 3))
        );
    }

    #[test]
    fn alias_draws_follow_the_weights() {
        let table = Alias::new(&[1.0, 0.0, 3.0]);
        let mut r = Rng::new(42, 0);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[table.draw(&mut r)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(
            (counts[2] as f64 / counts[0] as f64 - 3.0).abs() < 0.2,
            "{counts:?}"
        );
    }
}
