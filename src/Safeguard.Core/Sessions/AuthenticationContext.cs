namespace Safeguard.Sessions;

/// <summary>The <c>acr</c> and <c>amr</c> values Safeguard asserts (NIST SP 800-63B levels; RFC 8176 methods).</summary>
public static class AuthenticationContext
{
    /// <summary>One factor (a password): NIST SP 800-63B AAL1.</summary>
    public const string Aal1 = "http://idmanagement.gov/ns/assurance/aal/1";

    /// <summary>Two factors (a password and TOTP, or a recovery code): AAL2.</summary>
    public const string Aal2 = "http://idmanagement.gov/ns/assurance/aal/2";

    /// <summary>RFC 8176: a password.</summary>
    public const string Password = "pwd";

    /// <summary>RFC 8176: a one-time password.</summary>
    public const string OneTimePassword = "otp";

    /// <summary>RFC 8176: more than one factor.</summary>
    public const string MultiFactor = "mfa";
}
