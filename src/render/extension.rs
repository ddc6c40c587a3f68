//! The assessment extension (`omalizumab-cds.assessment`): the machine-readable finding
//! EHR analytics key on. Its shape is a contract (README); it does not follow the wording.

use serde_json::{Map, Value, json};

use crate::profile::Interval;
use crate::rules::{Assessment, BillingAssessment};

fn interval_json(i: Interval, obj: &mut Map<String, Value>) {
    match i {
        Interval::Weeks(n) => obj.insert("everyWeeks".into(), json!(n)),
        Interval::Months(n) => obj.insert("everyMonths".into(), json!(n)),
    };
}

fn mg_json(mg: f64) -> Value {
    if mg.fract() == 0.0 { json!(mg as u64) } else { json!(mg) }
}

/// The machine-readable assessment EHR analytics key on; unknown fields are omitted.
pub fn assessment_extension(a: &Assessment) -> Value {
    let mut ext = Map::new();
    ext.insert("order".into(), json!(a.order));
    if let Some(i) = &a.indication {
        ext.insert("indication".into(), json!(i.id));
    }
    ext.insert("eligibility".into(), json!(a.eligibility.code()));
    if !a.reasons.is_empty() {
        ext.insert(
            "reasons".into(),
            json!(a.reasons.iter().map(|r| r.code()).collect::<Vec<_>>()),
        );
    }
    if let Some(d) = a.recommended_dose() {
        let mut o = Map::new();
        o.insert("mg".into(), json!(d.mg));
        interval_json(d.interval, &mut o);
        ext.insert("recommendedDose".into(), Value::Object(o));
    }
    let ordered = ordered_dose(a);
    if !ordered.is_empty() {
        ext.insert("orderedDose".into(), Value::Object(ordered));
    }
    if let Some(m) = a.dose_matches {
        ext.insert("doseMatches".into(), json!(m));
    }
    let billing = billing(&a.billing);
    ext.insert("billing".into(), Value::Object(billing));
    if !a.gaps.is_empty() {
        ext.insert(
            "gaps".into(),
            json!(a.gaps.iter().map(|g| g.code()).collect::<Vec<_>>()),
        );
    }
    if !a.readings.is_empty() {
        ext.insert(
            "readings".into(),
            json!(a.readings.iter().map(|r| r.code()).collect::<Vec<_>>()),
        );
    }
    if !a.unfetched.is_empty() {
        ext.insert(
            "unfetched".into(),
            json!(a.unfetched.iter().map(|u| u.key.as_str()).collect::<Vec<_>>()),
        );
    }
    Value::Object(ext)
}

fn ordered_dose(a: &Assessment) -> Map<String, Value> {
    let mut ordered = Map::new();
    if let Some(mg) = a.ordered_dose {
        ordered.insert("mg".into(), mg_json(mg));
    }
    if let Some(i) = a.ordered_interval {
        interval_json(i, &mut ordered);
    }
    ordered
}

fn billing(b: &BillingAssessment) -> Map<String, Value> {
    let mut billing = Map::new();
    billing.insert("hcpcs".into(), json!(b.hcpcs));
    if let Some(u) = b.units {
        billing.insert("units".into(), json!(u));
    }
    billing.insert("administrationCpt".into(), json!(b.administration_cpt));
    if let Some(m) = &b.modifier {
        billing.insert("modifier".into(), json!(m));
    }
    if let Some(d) = b.discarded_units {
        billing.insert("discardedUnits".into(), json!(d));
    }
    billing
}
