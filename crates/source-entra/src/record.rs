//! The raw shapes, as one wide tolerant structure.
//!
//! A Graph `signIn`, the `properties` of an Azure Monitor record, a Log Analytics row and the
//! `azure.signinlogs.properties` of an Elastic document carry the same facts under different
//! spellings, so one [`Record`] reads them all; the envelope keys of Azure Monitor, Log Analytics
//! and Elastic sit in the same struct. Only the fields trailproof uses are declared.

use crate::de::{Dyn, Flag, Str, StrList, Text, tolerant_struct};

tolerant_struct! {
    /// One JSON object of any supported shape (or the `properties` / `signinlogs` inside one).
    struct Record<'a> {
        // --- identity of the record
        id: Text<'a> = ["id"],
        /// Log Analytics spelling, kept apart because it also tells the shape.
        id_pascal: Text<'a> = ["Id"],
        /// Elastic renames `createdDateTime` to `created_at`.
        created: Text<'a> = ["createdDateTime", "created_at"],
        created_pascal: Text<'a> = ["CreatedDateTime"],

        // --- envelope: Azure Monitor (camelCase, or lower case after Panther), Log Analytics,
        //     Elastic `azure.signinlogs`
        time: Text<'a> = ["time"],
        time_generated: Text<'a> = ["TimeGenerated"],
        timestamp: Text<'a> = ["@timestamp"],
        category: Text<'a> = ["category", "Category"],
        la_type: Text<'a> = ["Type"],
        operation_name: Text<'a> = ["operationName", "operationname", "OperationName", "operation_name"],
        /// Azure Monitor `tenantId` = the Entra tenant; Elastic `azure.tenant_id`.
        tenant_id: Text<'a> = ["tenantId", "tenantid", "tenant_id"],
        /// Log Analytics `TenantId` = the Log Analytics **workspace** id, not the Entra tenant.
        la_tenant_id: Text<'a> = ["TenantId"],
        aad_tenant_id: Text<'a> = ["AADTenantId", "aadTenantId"],
        resource_tenant_id: Text<'a> = ["resourceTenantId", "ResourceTenantId", "resource_tenant_id"],
        home_tenant_id: Text<'a> = ["homeTenantId", "HomeTenantId", "home_tenant_id"],
        result_type: Text<'a> = ["resultType", "resulttype", "ResultType", "result_type"],
        result_description: Text<'a> =
            ["resultDescription", "resultdescription", "ResultDescription", "result_description"],
        caller_ip: Text<'a> =
            ["callerIpAddress", "calleripaddress", "CallerIpAddress", "caller_ip_address"],
        properties: Box<Record<'a>> = ["properties"],

        // --- the sign-in
        upn: Text<'a> = ["userPrincipalName", "UserPrincipalName", "user_principal_name"],
        user_id: Text<'a> = ["userId", "UserId", "user_id"],
        display_name: Text<'a> = ["userDisplayName", "UserDisplayName", "user_display_name"],
        app_id: Text<'a> = ["appId", "AppId", "app_id"],
        app_name: Text<'a> = ["appDisplayName", "AppDisplayName", "app_display_name"],
        ip: Text<'a> = ["ipAddress", "IPAddress", "IpAddress", "ip_address"],
        asn: Text<'a> =
            ["autonomousSystemNumber", "AutonomousSystemNumber", "autonomous_system_number"],
        /// Graph: `{countryOrRegion, ...}`; Log Analytics `Location` and the Azure Monitor
        /// envelope's `location`: a bare country code.
        location: Dyn<Location> = ["location", "Location"],
        location_details: Dyn<Location> = ["LocationDetails", "locationDetails", "location_details"],
        /// Not `user_agent`: in Elastic documents that key is the ECS object (see `ecs_user_agent`).
        user_agent: Text<'a> = ["userAgent", "UserAgent"],
        session_id: Text<'a> = ["sessionId", "SessionId", "session_id"],
        /// Shared by the rows of one AD FS sign-in (Connect Health writes one row per step).
        correlation_id: Text<'a> = ["correlationId", "CorrelationId", "correlation_id"],
        status: Dyn<Status> = ["status", "Status"],
        requirement: Text<'a> =
            ["authenticationRequirement", "AuthenticationRequirement", "authentication_requirement"],
        details: Dyn<Vec<Option<AuthStep>>> =
            ["authenticationDetails", "AuthenticationDetails", "authentication_details"],
        methods_used: StrList = [
            "authenticationMethodsUsed",
            "AuthenticationMethodsUsed",
            "authentication_methods_used",
        ],
        mfa_detail: Dyn<MfaDetail> = ["mfaDetail", "MfaDetail", "mfa_detail"],
        event_types: StrList = ["signInEventTypes", "SignInEventTypes", "sign_in_event_types"],
        token_issuer_type: Text<'a> = ["tokenIssuerType", "TokenIssuerType", "token_issuer_type"],

        // --- Elastic ECS document
        ecs_event: EcsEvent = ["event"],
        ecs_azure: EcsAzure<'a> = ["azure"],
        ecs_source: EcsSource = ["source"],
        ecs_user_agent: Dyn<EcsUserAgent> = ["user_agent"],
        ecs_geo: EcsGeo = ["geo"],
    }
}

tolerant_struct! {
    /// `status` / `Status`: `{errorCode, failureReason, additionalDetails}`.
    struct Status {
        error_code: Str = ["errorCode", "ErrorCode", "error_code"],
        failure_reason: Str = ["failureReason", "FailureReason", "failure_reason"],
        additional_details: Str = ["additionalDetails", "AdditionalDetails", "additional_details"],
    }
}

tolerant_struct! {
    /// One `authenticationDetails[]` element.
    struct AuthStep {
        method: Str = ["authenticationMethod", "AuthenticationMethod", "authentication_method"],
        /// `authenticationMethodDetail` (beta): AD FS writes the provider here (`Forms
        /// Authentication` under method `Password`).
        method_detail: Str = [
            "authenticationMethodDetail",
            "AuthenticationMethodDetail",
            "authentication_method_detail",
        ],
        succeeded: Flag = ["succeeded", "Succeeded"],
        result_detail: Str = [
            "authenticationStepResultDetail",
            "AuthenticationStepResultDetail",
            "authentication_step_result_detail",
        ],
        step_requirement: Str = [
            "authenticationStepRequirement",
            "AuthenticationStepRequirement",
            "authentication_step_requirement",
        ],
    }
}

tolerant_struct! {
    /// `location` / `LocationDetails`.
    struct Location {
        country: Str = ["countryOrRegion", "CountryOrRegion", "country_or_region"],
    }
}

tolerant_struct! {
    /// `mfaDetail` (beta, deprecated).
    struct MfaDetail {
        auth_method: Str = ["authMethod", "AuthMethod", "auth_method"],
        auth_detail: Str = ["authDetail", "AuthDetail", "auth_detail"],
    }
}

tolerant_struct! {
    /// ECS `event`: `original` holds the raw record when the pipeline preserved it.
    struct EcsEvent {
        original: Str = ["original"],
    }
}

tolerant_struct! {
    /// ECS `azure`.
    struct EcsAzure<'a> {
        tenant_id: Text<'a> = ["tenant_id"],
        signinlogs: Box<Record<'a>> = ["signinlogs"],
    }
}

tolerant_struct! {
    struct EcsSource {
        ip: Str = ["ip"],
    }
}

tolerant_struct! {
    struct EcsUserAgent {
        original: Str = ["original"],
    }
}

tolerant_struct! {
    struct EcsGeo {
        country_iso_code: Str = ["country_iso_code"],
    }
}
