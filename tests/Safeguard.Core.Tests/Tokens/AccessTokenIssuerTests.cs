using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.DependencyInjection;
using Safeguard.Hosting;
using Safeguard.Keys;
using Safeguard.Tests.Hosting;
using Safeguard.Tokens;

namespace Safeguard.Tests.Tokens;

public sealed class AccessTokenIssuerTests
{
    [Theory]
    [InlineData("diagnosis")]
    [InlineData("patient_name")]
    [InlineData("email")]
    [InlineData("iss")]
    public void Issue_RefusesAClaimNotOnTheAllowList(string claim)
    {
        using var fixture = new TokenFixture();

        var result = fixture.Issuer_.Issue(TokenFixture.Request() with
        {
            AdditionalClaims = new Dictionary<string, object> { [claim] = "value" },
        });

        Assert.False(result.Succeeded);
        Assert.Null(result.Token);
        Assert.Equal(SafeguardErrorCodes.IssuanceClaimNotAllowed, result.ErrorCode);
        Assert.DoesNotContain("value", result.ErrorDescription, StringComparison.Ordinal);
    }

    [Fact]
    public void Issue_RefusesAnObjectValueEvenForAnAllowedClaim()
    {
        using var fixture = new TokenFixture();

        var result = fixture.Issuer_.Issue(TokenFixture.Request() with
        {
            AdditionalClaims = new Dictionary<string, object> { ["tenant"] = new { Name = "x" } },
        });

        Assert.Equal(SafeguardErrorCodes.IssuanceClaimValueNotAllowed, result.ErrorCode);
    }

    [Theory]
    [InlineData("no subject")]
    [InlineData("no client")]
    [InlineData("no audience")]
    [InlineData("scope with a space")]
    [InlineData("malformed cnf")]
    public void Issue_RefusesAnInvalidRequest(string problem)
    {
        using var fixture = new TokenFixture();
        var request = problem switch
        {
            "no subject" => TokenFixture.Request() with { Subject = "" },
            "no client" => TokenFixture.Request() with { ClientId = "" },
            "no audience" => TokenFixture.Request() with { Audiences = [] },
            "scope with a space" => TokenFixture.Request() with { Scopes = ["patient.read patient.write"] },
            _ => TokenFixture.Request() with { ConfirmationJwkThumbprint = "not/base64url" },
        };

        Assert.Equal(SafeguardErrorCodes.IssuanceRequestInvalid, fixture.Issuer_.Issue(request).ErrorCode);
    }

    [Fact]
    public void Issue_RefusesALifetimeLongerThanConfigured()
    {
        using var fixture = new TokenFixture();

        var result = fixture.Issuer_.Issue(TokenFixture.Request() with { Lifetime = TimeSpan.FromMinutes(6) });

        Assert.Equal(SafeguardErrorCodes.IssuanceLifetimeNotAllowed, result.ErrorCode);
    }

    [Fact]
    public async Task Issue_FailsClosedWithoutAnActiveKey()
    {
        using var fixture = new TokenFixture();
        var store = new InMemorySigningKeyStore();
        using var emptyRing = new SigningKeyRing(store, fixture.Protector, Options.Create(new KeyRingOptions()), fixture.Time, NullLogger<SigningKeyRing>.Instance);
        var issuer = new AccessTokenIssuer(emptyRing, Options.Create(fixture.TokenOptions), fixture.Time, NullLogger<AccessTokenIssuer>.Instance);

        var result = issuer.Issue(TokenFixture.Request());

        Assert.Equal(SafeguardErrorCodes.IssuanceNoSigningKey, result.ErrorCode);
        await Task.CompletedTask;
    }

    [Fact]
    public void Issue_UsesAFreshTokenIdEachTime()
    {
        using var fixture = new TokenFixture();

        var ids = Enumerable.Range(0, 100).Select(_ => fixture.Issuer_.Issue(TokenFixture.Request()).TokenId).ToHashSet();

        Assert.Equal(100, ids.Count);
    }

    [Fact]
    public void Result_DefaultIsAFailure()
    {
        AccessTokenIssueResult result = default;

        Assert.False(result.Succeeded);
        Assert.Equal(SafeguardErrorCodes.IssuanceRequestInvalid, result.ErrorCode);
    }

    [Theory]
    [InlineData("2 hour tokens")]
    [InlineData("16 minute tokens")]
    [InlineData("http issuer")]
    [InlineData("wildcard claim")]
    [InlineData("standard claim on the extra list")]
    public void Options_RefuseInsecureSettings(string setting)
    {
        var options = new AccessTokenOptions { Issuer = TokenFixture.Issuer };
        switch (setting)
        {
            case "2 hour tokens": options.Lifetime = TimeSpan.FromHours(2); break;
            case "16 minute tokens": options.Lifetime = TimeSpan.FromMinutes(16); break;
            case "http issuer": options.Issuer = "http://auth.example.test"; break;
            case "wildcard claim": options.AdditionalAllowedClaims.Add("*"); break;
            case "standard claim on the extra list": options.AdditionalAllowedClaims.Add("sub"); break;
        }

        var result = new AccessTokenOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Single(result.Failures);
    }

    [Fact]
    public void Composition_StopsOnATwoHourLifetimeWithAMessageThatSaysWhatToChange()
    {
        using var services = CoreComposition.Build(new Dictionary<string, string?>
        {
            ["Safeguard:Tokens:Issuer"] = TokenFixture.Issuer,
            ["Safeguard:Tokens:Lifetime"] = "02:00:00",
        });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<AccessTokenIssuer>());

        Assert.Contains("Safeguard:Tokens:Lifetime", error.Message, StringComparison.Ordinal);
        Assert.Contains("00:15:00", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Composition_StopsAtStartOnAlgNone_WithEveryFailureListed()
    {
        using var services = CoreComposition.Build(new Dictionary<string, string?>
        {
            ["Safeguard:Keys:Algorithm"] = "none",
            ["Safeguard:Keys:PropagationTime"] = "00:00:10",
            ["Safeguard:Dpop:ProofMaxAge"] = "01:00:00",
        });

        var error = Assert.Throws<OptionsValidationException>(() => SafeguardOptionsValidation.ValidateAll(services));

        Assert.Contains(error.Failures, f => f.Contains("Safeguard:Keys:Algorithm", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Safeguard:Keys:PropagationTime", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Safeguard:Dpop:ProofMaxAge", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Composition_BindsTheKeyRingFromConfiguration()
    {
        using var services = CoreComposition.Build(new Dictionary<string, string?>
        {
            ["Safeguard:Keys:Algorithm"] = "ES384",
            ["Safeguard:Keys:PropagationTime"] = "02:00:00",
        });
        SafeguardOptionsValidation.ValidateAll(services);
        var ring = services.GetRequiredService<SigningKeyRing>();

        await ring.EnsureKeysAsync(CancellationToken.None);
        var pending = await ring.RotateAsync(CancellationToken.None);

        Assert.Equal(SigningAlgorithms.ES384, ring.GetSigningKey()!.Algorithm);
        Assert.Equal(SigningAlgorithms.ES384, pending.Algorithm);
        Assert.Equal(TimeSpan.FromHours(2), pending.ActivatesAt - pending.CreatedAt);
    }

    [Fact]
    public void Options_DefaultsAreValidOnceAnIssuerIsSet()
    {
        var options = new AccessTokenOptions { Issuer = TokenFixture.Issuer };

        Assert.True(new AccessTokenOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(TimeSpan.FromMinutes(5), options.Lifetime);
    }
}
