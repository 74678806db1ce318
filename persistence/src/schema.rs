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
    evaluations (situation_id) {
        situation_id -> Text,
        text -> Text,
        written_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> BigInt,
    }
}

diesel::joinable!(post_units -> posts (post_id));
diesel::joinable!(post_units -> units (unit_id));
diesel::joinable!(beneficiaries -> posts (post_id));
diesel::joinable!(situations -> posts (post_id));
diesel::joinable!(situations -> beneficiaries (beneficiary_id));
diesel::joinable!(situation_problems -> situations (situation_id));
diesel::joinable!(interventions -> situations (situation_id));
diesel::joinable!(evaluations -> situations (situation_id));

diesel::allow_tables_to_appear_in_same_query!(
    instance_secrets,
    posts,
    units,
    post_units,
    beneficiaries,
    situations,
    situation_problems,
    interventions,
    evaluations,
);
