using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Safeguard.Tokens;

namespace Safeguard.AspNetCore;

/// <summary>What the Safeguard JWT handler tells the application.</summary>
public class SafeguardJwtEvents
{
    /// <summary>A token passed every check; the principal may be enriched, or the request failed.</summary>
    public Func<SafeguardJwtValidatedContext, Task> OnTokenValidated { get; set; } = _ => Task.CompletedTask;

    /// <summary>A token was refused; <see cref="SafeguardJwtFailedContext.ErrorCode"/> says why (never sent to the caller).</summary>
    public Func<SafeguardJwtFailedContext, Task> OnAuthenticationFailed { get; set; } = _ => Task.CompletedTask;

    /// <summary>Raises <see cref="OnTokenValidated"/>.</summary>
    public virtual Task TokenValidated(SafeguardJwtValidatedContext context) => OnTokenValidated(context);

    /// <summary>Raises <see cref="OnAuthenticationFailed"/>.</summary>
    public virtual Task AuthenticationFailed(SafeguardJwtFailedContext context) => OnAuthenticationFailed(context);
}

/// <summary>A validated token and the principal built from it.</summary>
public sealed class SafeguardJwtValidatedContext(HttpContext context, AuthenticationScheme scheme, SafeguardJwtOptions options, ValidatedAccessToken token)
    : ResultContext<SafeguardJwtOptions>(context, scheme, options)
{
    /// <summary>The token's verified claims.</summary>
    public ValidatedAccessToken Token { get; } = token;
}

/// <summary>A refused token.</summary>
public sealed class SafeguardJwtFailedContext(HttpContext context, AuthenticationScheme scheme, SafeguardJwtOptions options, string errorCode)
    : ResultContext<SafeguardJwtOptions>(context, scheme, options)
{
    /// <summary>The <c>SGxxxx</c> code of the refusal.</summary>
    public string ErrorCode { get; } = errorCode;
}
