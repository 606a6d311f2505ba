//! The one resolver of the settings a group may set for its members: the holding period,
//! the minimum payout and the landing URL. The group's value applies when the group sets
//! one, else the program's. Maturation dates (recording, bonuses), payout runs, the
//! portal's next payout and the referral redirect all ask here, so the rule lives once.

use crate::db::{affiliates::EnrollmentRow, programs::ProgramRow};

/// What a group sets of its own (`None`: the program's applies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupOverrides<'a> {
    /// Own holding period in days.
    pub holding_period_days: Option<i64>,
    /// Own minimum payout, minor units.
    pub min_payout_cents: Option<i64>,
    /// Own landing URL.
    pub landing_url: Option<&'a str>,
}

impl<'a> GroupOverrides<'a> {
    /// The overrides of an enrollment's group (as read along with the enrollment).
    pub fn of_enrollment(e: &'a EnrollmentRow) -> Self {
        Self {
            holding_period_days: e.group_holding_period_days,
            min_payout_cents: e.group_min_payout_cents,
            landing_url: None,
        }
    }
}

/// Days a commission of a member stays pending.
pub fn holding_period_days(program: &ProgramRow, group: &GroupOverrides<'_>) -> i64 {
    group
        .holding_period_days
        .unwrap_or(program.holding_period_days)
}

/// The smallest balance paid out to a member.
pub fn min_payout_cents(program: &ProgramRow, group: &GroupOverrides<'_>) -> i64 {
    group.min_payout_cents.unwrap_or(program.min_payout_cents)
}

/// Where a member's referral links land (`program_landing`: the program's landing URL).
pub fn landing_url<'a>(
    program_landing: Option<&'a str>,
    group: &GroupOverrides<'a>,
) -> Option<&'a str> {
    group.landing_url.or(program_landing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_value_wins_when_set() {
        let g = GroupOverrides {
            landing_url: Some("https://gold.test/"),
            ..GroupOverrides::default()
        };
        assert_eq!(
            landing_url(Some("https://shop.test/"), &g),
            Some("https://gold.test/")
        );
        assert_eq!(
            landing_url(Some("https://shop.test/"), &GroupOverrides::default()),
            Some("https://shop.test/")
        );
    }
}
