using Safeguard.AspNetCore;

namespace Safeguard.Gateway;

/// <summary>
/// What the upstream receives in headers: every identity or forwarding header the client sent is dropped
/// (<c>X-Forwarded-*</c>, <c>Forwarded</c>, <c>X-Real-IP</c>, <c>X-User-*</c>, <c>X-Client-Cert*</c>, the identity
/// prefix, configured prefixes; and <c>Authorization</c>/<c>DPoP</c> unless forwarded on purpose), then the verified
/// identity is set under the identity prefix. <c>X-Forwarded-For</c>/<c>-Proto</c>/<c>-Host</c> are set by the
/// gateway afterwards.
/// </summary>
internal sealed class GatewayHeaders
{
    private static readonly string[] BuiltInPrefixes = ["X-Forwarded-", "Forwarded", "X-Real-IP", "X-User-", "X-Client-Cert", "X-Original-", "X-ARR-ClientCert"];

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Safeguard.Tokens.ValidatedAccessToken, JoinedLists> Joined = new();

    private readonly string[] _prefixes;
    private readonly bool _forwardAuthorization;
    private readonly string _subject;
    private readonly string _clientId;
    private readonly string _scope;
    private readonly string _roles;
    private readonly string _session;
    private readonly string _acr;
    private readonly string _tokenId;
    private readonly string _assertion;

    public GatewayHeaders(GatewayOptions options)
    {
        _prefixes = [.. BuiltInPrefixes, options.IdentityHeaderPrefix, .. options.StripHeaderPrefixes];
        _forwardAuthorization = options.ForwardAuthorization;
        var prefix = options.IdentityHeaderPrefix;
        _subject = prefix + "Subject";
        _clientId = prefix + "Client-Id";
        _scope = prefix + "Scope";
        _roles = prefix + "Roles";
        _session = prefix + "Session";
        _acr = prefix + "Acr";
        _tokenId = prefix + "Token-Id";
        _assertion = prefix + "Assertion";
    }

    /// <summary>The assertion maker when <see cref="GatewayOptions.IdentityAssertion"/> is on.</summary>
    public GatewayIdentityAssertion? Assertions { get; init; }

    public void Apply(HttpContext context, HttpRequestMessage proxy, string cluster)
    {
        // NonValidated: enumerating the headers themselves would parse every value (the Authorization header among them).
        List<string>? drop = null;
        foreach (var header in proxy.Headers.NonValidated)
        {
            if (Stripped(header.Key))
            {
                (drop ??= []).Add(header.Key);
            }
        }

        if (drop is not null)
        {
            foreach (var name in drop)
            {
                proxy.Headers.Remove(name);
            }
        }

        if (context.Features.Get<SafeguardTokenFeature>()?.Token is not { } token)
        {
            return;
        }

        // A cached token is the same object on every request: its joined lists are made once.
        var lists = Joined.GetValue(token, t => new JoinedLists(
            t.Scopes.Count > 0 ? string.Join(' ', t.Scopes) : null,
            t.Roles.Count > 0 ? string.Join(',', t.Roles) : null));
        Set(proxy, _subject, token.Subject);
        Set(proxy, _clientId, token.ClientId);
        Set(proxy, _scope, lists.Scope);
        Set(proxy, _roles, lists.Roles);
        Set(proxy, _session, token.SessionId);
        Set(proxy, _acr, token.AuthenticationContextClass);
        Set(proxy, _tokenId, token.TokenId);
        if (Assertions is not null)
        {
            Set(proxy, _assertion, Assertions.For(token, cluster));
        }
    }

    private bool Stripped(string name)
    {
        if (!_forwardAuthorization && (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || name.Equals("DPoP", StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        foreach (var prefix in _prefixes)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Sets a header when the value is plain visible ASCII (a value that is not is left out rather than mangled).</summary>
    private static void Set(HttpRequestMessage proxy, string name, string? value)
    {
        if (value is { Length: > 0 } && !value.AsSpan().ContainsAnyExceptInRange(' ', '~'))
        {
            proxy.Headers.TryAddWithoutValidation(name, value);
        }
    }

    private sealed record JoinedLists(string? Scope, string? Roles);
}
