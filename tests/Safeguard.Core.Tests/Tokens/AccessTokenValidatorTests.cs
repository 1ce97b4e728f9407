using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Keys;
using Safeguard.Tests.Hosting;
using Safeguard.Tokens;

namespace Safeguard.Tests.Tokens;

public sealed class AccessTokenValidatorTests
{
    [Theory]
    [InlineData(SigningAlgorithms.ES256)]
    [InlineData(SigningAlgorithms.ES384)]
    [InlineData(SigningAlgorithms.PS256)]
    [InlineData(SigningAlgorithms.RS256)]
    public void Validate_AcceptsATokenTheIssuerSigned(string algorithm)
    {
        using var fixture = new TokenFixture(algorithm);
        var request = TokenFixture.Request() with
        {
            SessionId = "s-1",
            AuthenticationContextClass = "urn:safeguard:aal2",
            AuthenticationMethods = ["pwd", "otp"],
            Roles = ["clinician"],
            ConfirmationJwkThumbprint = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
            AuthenticationTime = fixture.Time.GetUtcNow().AddMinutes(-1),
        };
        var issued = fixture.Issuer_.Issue(request);

        var result = fixture.Validator.Validate(issued.Token);

        Assert.True(result.IsValid, result.ErrorCode);
        var token = result.Token!;
        Assert.Equal(algorithm, token.Algorithm);
        Assert.Equal(fixture.ActiveKey.KeyId, token.KeyId);
        Assert.Equal("user-7f3a", token.Subject);
        Assert.Equal("billing", token.ClientId);
        Assert.Equal(issued.TokenId, token.TokenId);
        Assert.Equal(issued.ExpiresAt, token.ExpiresAt);
        Assert.Equal([TokenFixture.Audience], token.Audiences);
        Assert.True(token.HasScope("patient.read"));
        Assert.Equal(["pwd", "otp"], token.AuthenticationMethods);
        Assert.Equal(["clinician"], token.Roles);
        Assert.Equal("s-1", token.SessionId);
        Assert.Equal("urn:safeguard:aal2", token.AuthenticationContextClass);
        Assert.Equal(request.ConfirmationJwkThumbprint, token.ConfirmationJwkThumbprint);
        Assert.False(result.FromCache);
    }

    [Fact]
    public void Validate_ServesARepeatedTokenFromTheCacheAndStillChecksLifetime()
    {
        using var fixture = new TokenFixture();
        var token = fixture.IssueToken();

        var first = fixture.Validator.Validate(token);
        var second = fixture.Validator.Validate(token);
        fixture.Time.Advance(TimeSpan.FromMinutes(5) + fixture.ValidationOptions.ClockSkew);
        var expired = fixture.Validator.Validate(token);

        Assert.True(first.IsValid);
        Assert.False(first.FromCache);
        Assert.True(second.IsValid);
        Assert.True(second.FromCache);
        Assert.Equal(SafeguardErrorCodes.TokenExpired, expired.ErrorCode);
        Assert.Equal(0, fixture.Validator.CachedTokenCount);
    }

    [Fact]
    public void Validate_ChecksRevocationOnACachedToken()
    {
        using var fixture = new TokenFixture();
        var token = fixture.IssueToken();
        var first = fixture.Validator.Validate(token);

        fixture.Revocations.Revoke(first.Token!.TokenId!, first.Token.ExpiresAt!.Value.AddMinutes(1));
        var second = fixture.Validator.Validate(token);

        Assert.True(first.IsValid);
        Assert.Equal(SafeguardErrorCodes.TokenRevoked, second.ErrorCode);
        Assert.Equal(first.Token.TokenId, second.TokenId);
    }

    [Fact]
    public void Validate_AcceptsATokenExpiredWithinTheSkew()
    {
        using var fixture = new TokenFixture();
        var token = fixture.IssueToken();

        fixture.Time.Advance(TimeSpan.FromMinutes(5) + fixture.ValidationOptions.ClockSkew - TimeSpan.FromSeconds(1));

        Assert.True(fixture.Validator.Validate(token).IsValid);
    }

    [Fact]
    public void Validate_AcceptsTheApplicationMediaTypeAndSeveralAudiences()
    {
        using var fixture = new TokenFixture();
        var token = fixture.Sign(
            fixture.Header(typ: "application/at+jwt"),
            fixture.Payload(c => c["aud"] = new[] { "https://other.example.test", TokenFixture.Audience }));

        var result = fixture.Validator.Validate(token);

        Assert.True(result.IsValid, result.ErrorCode);
        Assert.Equal(2, result.Token!.Audiences.Count);
    }

    [Fact]
    public void Validate_WithCacheOff_VerifiesEveryTime()
    {
        using var fixture = new TokenFixture(configureValidation: o => o.CacheVerifiedTokens = false);
        var token = fixture.IssueToken();

        var first = fixture.Validator.Validate(token);
        var second = fixture.Validator.Validate(token);

        Assert.True(first.IsValid && second.IsValid);
        Assert.False(second.FromCache);
        Assert.Equal(0, fixture.Validator.CachedTokenCount);
    }

    [Fact]
    public void Validate_CacheStaysWithinItsBound()
    {
        using var fixture = new TokenFixture(configureValidation: o => o.CacheSize = 3);

        for (var i = 0; i < 10; i++)
        {
            Assert.True(fixture.Validator.Validate(fixture.IssueToken()).IsValid);
        }

        Assert.Equal(3, fixture.Validator.CachedTokenCount);
    }

    [Fact]
    public void Validate_ExposesOnlyAllowListedAdditionalClaims()
    {
        using var fixture = new TokenFixture();
        var token = fixture.IssueToken(TokenFixture.Request() with
        {
            AdditionalClaims = new Dictionary<string, object> { ["tenant"] = "north-clinic" },
        });

        var result = fixture.Validator.Validate(token);

        Assert.True(result.IsValid);
        Assert.Equal("north-clinic", result.Token!.AdditionalClaims["tenant"].GetString());
    }

    [Fact]
    public void Result_DefaultIsAFailure()
    {
        TokenValidationResult result = default;

        Assert.False(result.IsValid);
        Assert.Equal(SafeguardErrorCodes.TokenValidationFailed, result.ErrorCode);
    }

    [Theory]
    [InlineData("ClockSkew 5 minutes (IdentityModel's default)", "Safeguard:Validation:ClockSkew", "00:05:00")]
    [InlineData("alg none allowed", "Safeguard:Validation:ValidAlgorithms:0", "none")]
    [InlineData("HS256 allowed", "Safeguard:Validation:ValidAlgorithms:0", "HS256")]
    [InlineData("no audience", "Safeguard:Validation:Audiences:0", null)]
    [InlineData("http issuer", "Safeguard:Validation:Issuer", "http://auth.example.test")]
    [InlineData("16 KB tokens", "Safeguard:Validation:MaxTokenSize", "16384")]
    public void Composition_RefusesInsecureValidationOptions(string setting, string key, string? value)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Safeguard:Validation:Issuer"] = TokenFixture.Issuer,
            ["Safeguard:Validation:Audiences:0"] = TokenFixture.Audience,
        };
        settings[key] = value;
        if (value is null)
        {
            settings.Remove(key);
        }

        using var services = CoreComposition.Build(settings);

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<AccessTokenValidator>());
        Assert.True(error.Failures.Count() == 1, setting + ": " + string.Join(" | ", error.Failures));
    }

    [Fact]
    public void Constructor_RefusesInsecureOptionsToo_SoAHandBuiltValidatorCannotRunOnThem()
    {
        using var fixture = new TokenFixture();
        var options = new AccessTokenValidationOptions { Issuer = TokenFixture.Issuer, Audiences = { TokenFixture.Audience }, ClockSkew = TimeSpan.FromMinutes(5) };

        var error = Assert.Throws<OptionsValidationException>(() => new AccessTokenValidator(fixture.Ring, Options.Create(options), fixture.Time, Microsoft.Extensions.Logging.Abstractions.NullLogger<AccessTokenValidator>.Instance));

        Assert.Contains("ClockSkew", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void APolicyNarrowedToNoKnownAlgorithm_AllowsNone()
    {
        var narrowed = Safeguard.Jose.JwsPolicies.AccessToken.Narrow(["es256", "HS256"], null);

        Assert.Empty(narrowed.Algorithms);
        Assert.False(narrowed.AllowsAlgorithm(SigningAlgorithms.ES256));
        Assert.Equal(SigningAlgorithms.All, Safeguard.Jose.JwsPolicies.AccessToken.Narrow([], null).Algorithms);
    }

    [Fact]
    public void Validate_HonoursANarrowedAlgorithmList()
    {
        using var fixture = new TokenFixture(configureValidation: o => o.ValidAlgorithms.Add(SigningAlgorithms.ES384));

        var result = fixture.Validator.Validate(fixture.IssueToken());

        Assert.Equal(SafeguardErrorCodes.TokenAlgorithmNotAllowed, result.ErrorCode);
    }

    [Fact]
    public void IssuedToken_HasTheRfc9068ShapeAndNothingElse()
    {
        using var fixture = new TokenFixture();
        var token = fixture.IssueToken();
        var parts = token.Split('.');
        using var header = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[0]));
        using var payload = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]));

        Assert.Equal("at+jwt", header.RootElement.GetProperty("typ").GetString());
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal(fixture.ActiveKey.KeyId, header.RootElement.GetProperty("kid").GetString());
        var names = payload.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub" }, names);
        var lifetime = payload.RootElement.GetProperty("exp").GetInt64() - payload.RootElement.GetProperty("iat").GetInt64();
        Assert.Equal(300, lifetime);
    }
}
