//! Table definitions shared by both backends: portable SQL types only
//! (ids are Text, timestamps UTC `Timestamp`), so one query serves SQLite and PostgreSQL.

diesel::table! {
    instance_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    posts (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        department_code -> Text,
        employer -> Text,
        convention -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    units (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        department_code -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    post_units (unit_id, post_id) {
        post_id -> Text,
        unit_id -> Text,
    }
}

diesel::table! {
    beneficiaries (id) {
        id -> Text,
        post_id -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        birth_date -> Nullable<Date>,
        birth_year -> Nullable<Integer>,
        sex -> Text,
        commune_code -> Nullable<Text>,
        phone -> Nullable<Text>,
        known_to_social_services -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        /// When the identity was removed (retention period over, or erasure); NULL while kept.
        anonymised_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    situations (id) {
        id -> Text,
        post_id -> Text,
        beneficiary_id -> Text,
        opened_on -> Date,
        origin -> Text,
        referring_service -> Nullable<Text>,
        standing -> Text,
        penal -> Bool,
        principal_problem -> Text,
        children_in_household -> Nullable<Integer>,
        status -> Text,
        closing_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        /// When the situation's free text was removed with its person's identity.
        anonymised_at -> Nullable<Timestamp>,
        /// The person's age on `opened_on`, kept when the birth date is removed; NULL before.
        age_at_opening -> Nullable<Integer>,
        /// Whether `age_at_opening` was reckoned from a birth year only; NULL before it was kept.
        age_from_birth_year -> Nullable<Bool>,
        /// The opening of the same person's situation just before this one (by opening, then id);
        /// NULL for their first. Kept by database triggers (migration 000018), never written here.
        previous_opened_on -> Nullable<Date>,
        /// The codes of the situation's problems (`situation_problems`) in bytewise order, joined
        /// by commas; NULL for none. Kept by database triggers (migration 000019), never written
        /// here.
        problems -> Nullable<Text>,
    }
}

diesel::table! {
    situation_problems (situation_id, problem) {
        situation_id -> Text,
        problem -> Text,
        position -> Integer,
    }
}

diesel::table! {
    interventions (id) {
        id -> Text,
        situation_id -> Text,
        /// The situation's post, repeated so that a scope's interventions are read by index.
        post_id -> Nullable<Text>,
        occurred_on -> Date,
        mode -> Text,
        kind -> Text,
        duration_minutes -> Integer,
        recorded_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    /// The interventions counted by post, month (`YYYY-MM`), mode and kind: kept by the database
    /// from `interventions` (migration 000020), read by the statistics grid.
    intervention_months (post_id, month, mode, kind) {
        post_id -> Text,
        month -> Text,
        mode -> Text,
        kind -> Text,
        n -> BigInt,
    }
}

diesel::table! {
    evaluations (situation_id) {
        situation_id -> Text,
        text -> Text,
        written_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    partners (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        siret -> Nullable<Text>,
        department_codes -> Text,
        commune_codes -> Text,
        themes -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        address -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    referrals (id) {
        id -> Text,
        post_id -> Text,
        sender_role -> Text,
        sender_subject -> Text,
        sender_unit_id -> Nullable<Text>,
        sender_partner_id -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        phone -> Nullable<Text>,
        birth_year -> Nullable<Integer>,
        sex -> Text,
        commune_code -> Nullable<Text>,
        reason -> Text,
        agreed_to_be_contacted -> Bool,
        status -> Text,
        no_follow_up_reason -> Nullable<Text>,
        situation_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        /// When the person's identity and the reason were removed.
        anonymised_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// The data keys a rotation pass completed for (`rotation`).
    sealing_passes (key_id) {
        key_id -> Text,
        completed_at -> Timestamp,
    }
}

diesel::table! {
    hand_offs (id) {
        id -> Text,
        situation_id -> Text,
        post_id -> Text,
        partner_id -> Text,
        status -> Text,
        reasons -> Text,
        message -> Nullable<Text>,
        legal_exception -> Nullable<Text>,
        decline_reason -> Nullable<Text>,
        outcome -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        parental_authority_informed_on -> Nullable<Date>,
        parental_authority_not_informed_because -> Nullable<Text>,
        result -> Nullable<Text>,
        /// The first transition to `sent`, kept by the database (migration 000017).
        sent_at -> Nullable<Timestamp>,
        /// The first transition to `accepted` or `declined`, kept by the database.
        answered_at -> Nullable<Timestamp>,
        /// Its situation's `opened_on`, kept by the database (migration 000019).
        situation_opened_on -> Nullable<Date>,
    }
}

diesel::table! {
    hand_off_transitions (hand_off_id, position) {
        hand_off_id -> Text,
        position -> Integer,
        from_status -> Nullable<Text>,
        to_status -> Text,
        at -> Timestamp,
        by_subject -> Text,
        by_role -> Text,
        reason -> Nullable<Text>,
        comment -> Nullable<Text>,
    }
}

diesel::table! {
    consents (hand_off_id) {
        hand_off_id -> Text,
        given -> Bool,
        form -> Text,
        answered_at -> Timestamp,
        shared_data -> Text,
        recorded_by -> Text,
        withdrawn_at -> Nullable<Timestamp>,
        withdrawn_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        kind -> Text,
        occurred_at -> Timestamp,
        post_id -> Nullable<Text>,
        partner_id -> Nullable<Text>,
        unit_id -> Nullable<Text>,
        record_type -> Text,
        record_id -> Text,
        data -> Text,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        partner_id -> Text,
        url -> Text,
        secret -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_seq -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (subject, key) {
        subject -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Integer,
        created_at -> Timestamp,
        record_id -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> Timestamp,
        subject -> Text,
        role -> Text,
        action -> Text,
        record_type -> Nullable<Text>,
        record_id -> Nullable<Text>,
        post_id -> Nullable<Text>,
        beneficiary_id -> Nullable<Text>,
        outcome -> Text,
        status -> Integer,
        position -> Nullable<BigInt>,
        mac -> Nullable<Text>,
        key_id -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chain (id) {
        id -> Integer,
        position -> BigInt,
        mac -> Nullable<Text>,
        key_id -> Nullable<Text>,
        signature -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_checkpoints (id) {
        id -> Text,
        kind -> Text,
        position -> BigInt,
        mac -> Text,
        events -> BigInt,
        at -> Timestamp,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    requisitions (id) {
        id -> Text,
        post_id -> Text,
        beneficiary_id -> Text,
        legal_basis -> Text,
        procedure_reference -> Text,
        requesting_authority -> Text,
        requesting_unit_id -> Nullable<Text>,
        received_on -> Date,
        status -> Text,
        recorded_by -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Nullable<Text>,
        produced_by -> Nullable<Text>,
        produced_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::table! {
    hand_off_reminders (hand_off_id, kind) {
        hand_off_id -> Text,
        kind -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    statistics_submissions (id) {
        id -> Text,
        post_id -> Text,
        grid -> Text,
        period_from -> Date,
        period_to -> Date,
        version -> BigInt,
        submitted_at -> Timestamp,
        submitted_by -> Text,
        statistics -> Text,
        differences -> Text,
    }
}

diesel::table! {
    statistics_instances (id) {
        id -> Text,
        name -> Text,
        public_key -> Text,
        registered_at -> Timestamp,
        registered_by -> Text,
    }
}

diesel::table! {
    imported_submissions (id) {
        id -> Text,
        instance_id -> Text,
        post_id -> Text,
        post_name -> Text,
        department_code -> Text,
        grid -> Text,
        period_from -> Date,
        period_to -> Date,
        version -> BigInt,
        submitted_at -> Timestamp,
        statistics -> Text,
        imported_at -> Timestamp,
    }
}

diesel::joinable!(statistics_submissions -> posts (post_id));
diesel::joinable!(imported_submissions -> statistics_instances (instance_id));
diesel::joinable!(post_units -> posts (post_id));
diesel::joinable!(post_units -> units (unit_id));
diesel::joinable!(beneficiaries -> posts (post_id));
diesel::joinable!(situations -> posts (post_id));
diesel::joinable!(situations -> beneficiaries (beneficiary_id));
diesel::joinable!(situation_problems -> situations (situation_id));
diesel::joinable!(interventions -> situations (situation_id));
diesel::joinable!(evaluations -> situations (situation_id));
diesel::joinable!(referrals -> posts (post_id));
diesel::joinable!(hand_offs -> situations (situation_id));
diesel::joinable!(hand_offs -> partners (partner_id));
diesel::joinable!(hand_off_transitions -> hand_offs (hand_off_id));
diesel::joinable!(hand_off_reminders -> hand_offs (hand_off_id));
diesel::joinable!(consents -> hand_offs (hand_off_id));
diesel::joinable!(requisitions -> beneficiaries (beneficiary_id));
diesel::joinable!(webhooks -> partners (partner_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_deliveries -> events (event_seq));

diesel::table! {
    members (id) {
        id -> Text,
        display_name -> Text,
        role -> Text,
        unit_id -> Nullable<Text>,
        partner_id -> Nullable<Text>,
        issuer -> Nullable<Text>,
        subject -> Nullable<Text>,
        email -> Nullable<Text>,
        bound_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
        client_id -> Nullable<Text>,
        secret_hash -> Nullable<Text>,
        secret_set_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    member_posts (member_id, post_id) {
        member_id -> Text,
        post_id -> Text,
    }
}

diesel::joinable!(member_posts -> members (member_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_events,
    statistics_submissions,
    statistics_instances,
    imported_submissions,
    audit_chain,
    audit_checkpoints,
    requisitions,
    instance_secrets,
    posts,
    units,
    post_units,
    beneficiaries,
    situations,
    situation_problems,
    interventions,
    intervention_months,
    evaluations,
    partners,
    referrals,
    hand_offs,
    hand_off_transitions,
    hand_off_reminders,
    consents,
    events,
    webhooks,
    webhook_deliveries,
    idempotency_keys,
    sealing_passes,
    members,
    member_posts,
);
