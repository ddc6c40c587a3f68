use super::*;

#[test]
fn fhir_dates_of_every_precision() {
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    assert_eq!(fhir_date("2024-05-03"), d(2024, 5, 3));
    assert_eq!(fhir_date("2024-05-03T23:10:00-05:00"), d(2024, 5, 3));
    assert_eq!(fhir_date("2024-05"), d(2024, 5, 1));
    assert_eq!(fhir_date("2024"), d(2024, 1, 1));
    assert_eq!(fhir_date("yesterday"), None);
    assert_eq!(fhir_date("2024-13-01"), None);
}

#[test]
fn decimals_with_exponents() {
    assert_eq!(fhir_decimal("1.5e2"), Some(150.0));
    assert_eq!(fhir_decimal("250.10"), Some(250.1));
    assert_eq!(fhir_decimal("NaN"), None);
    assert_eq!(fhir_decimal("x"), None);
}
