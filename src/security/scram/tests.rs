use super::*;

const CNONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SNONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";

fn vector_credential(mech: ScramMechanism) -> ScramCredential {
    let salt = B64.decode(SALT).unwrap();
    let salted = salted_password(mech, b"pencil", &salt, 4096);
    ScramCredential::from_salted_password(mech, salt, &salted, 4096)
}

/// Drives both sides with fixed nonces and checks every message against the expected text.
fn check_vector(mech: ScramMechanism, proof: &str, verifier: &str) {
    let cred = vector_credential(mech);
    let mut client = ScramClient::with_nonce(mech, "user", "pencil", CNONCE);
    let mut server = ScramServer::with_server_nonce(mech, SNONCE);

    let first = client.client_first();
    assert_eq!(first, format!("n,,n=user,r={CNONCE}").into_bytes());
    assert_eq!(server.receive_client_first(&first).unwrap(), "user");
    let server_first = server.server_first(Some(&cred)).unwrap();
    assert_eq!(
        String::from_utf8(server_first.clone()).unwrap(),
        format!("r={CNONCE}{SNONCE},s={SALT},i=4096")
    );
    let client_final = client.receive_server_first(&server_first).unwrap();
    assert_eq!(
        String::from_utf8(client_final.clone()).unwrap(),
        format!("c=biws,r={CNONCE}{SNONCE},p={proof}")
    );
    let server_final = server.receive_client_final(&client_final).unwrap();
    assert_eq!(
        String::from_utf8(server_final.clone()).unwrap(),
        format!("v={verifier}")
    );
    client.receive_server_final(&server_final).unwrap();
    assert!(client.is_complete() && server.is_complete());
    assert_eq!(server.username(), Some("user"));
    assert_eq!(server.authzid(), None);
}

#[test]
fn rfc7677_sha256_vector() {
    check_vector(
        ScramMechanism::Sha256,
        "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    );
}

#[test]
fn sha512_vector_from_independent_implementation() {
    // Same inputs as RFC 7677, computed with Python's hashlib/hmac.
    check_vector(
        ScramMechanism::Sha512,
        "gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
        "ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==",
    );
}

/// Runs a full exchange; `Err` carries the first failure (server or client side).
fn exchange(
    mech: ScramMechanism,
    user: &str,
    password: &str,
    cred: Option<&ScramCredential>,
) -> Result<ScramServer, ScramError> {
    let mut client = ScramClient::new(mech, user, password);
    let mut server = ScramServer::new(mech);
    assert_eq!(server.receive_client_first(&client.client_first())?, user);
    let client_final = client.receive_server_first(&server.server_first(cred)?)?;
    client.receive_server_final(&server.receive_client_final(&client_final)?)?;
    Ok(server)
}

#[test]
fn round_trips_both_mechanisms() {
    for mech in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
        for user in ["alice", "we,ird=name", "ünïcode"] {
            let cred = ScramCredential::new(mech, "s3cret", 4096);
            let server = exchange(mech, user, "s3cret", Some(&cred)).unwrap();
            assert_eq!(server.username(), Some(user));
        }
    }
}

#[test]
fn wrong_password_fails() {
    let mech = ScramMechanism::Sha256;
    let cred = ScramCredential::new(mech, "right", 4096);
    assert_eq!(
        exchange(mech, "alice", "wrong", Some(&cred)).unwrap_err(),
        ScramError::BadProof
    );
}

#[test]
fn unknown_user_fails_at_client_final_with_stable_server_first() {
    let mech = ScramMechanism::Sha512;
    let first_for = |user: &str| {
        let mut server = ScramServer::with_server_nonce(mech, "snonce");
        server
            .receive_client_first(format!("n,,n={user},r=cnonce").as_bytes())
            .unwrap();
        String::from_utf8(server.server_first(None).unwrap()).unwrap()
    };
    let a = first_for("ghost");
    assert_eq!(a, first_for("ghost"), "fake salt must be stable");
    assert_ne!(a, first_for("phantom"));
    // Same shape as a real credential's reply: base-36 salt, 4096 iterations.
    let salt = B64
        .decode(a.split(",s=").nth(1).unwrap().split(',').next().unwrap())
        .unwrap();
    assert!((20..=26).contains(&salt.len()) && salt.iter().all(u8::is_ascii_alphanumeric));
    assert!(a.starts_with("r=cnoncesnonce,s=") && a.ends_with(",i=4096"));
    assert_eq!(
        exchange(mech, "ghost", "anything", None).unwrap_err(),
        ScramError::UnknownUser
    );
}

#[test]
fn tampered_nonce_and_channel_binding_fail() {
    let mech = ScramMechanism::Sha256;
    let cred = vector_credential(mech);
    let run = |edit: &dyn Fn(String) -> String| {
        let mut client = ScramClient::with_nonce(mech, "user", "pencil", CNONCE);
        let mut server = ScramServer::with_server_nonce(mech, SNONCE);
        server.receive_client_first(&client.client_first()).unwrap();
        let client_final = client
            .receive_server_first(&server.server_first(Some(&cred)).unwrap())
            .unwrap();
        server.receive_client_final(edit(String::from_utf8(client_final).unwrap()).as_bytes())
    };
    assert_eq!(run(&|m| m.replace("k0,p=", "k1,p=")), Err(ScramError::NonceMismatch));
    assert_eq!(
        run(&|m| m.replace("c=biws", "c=eSws")),
        Err(ScramError::ChannelBindingMismatch)
    );
    assert_eq!(run(&|m| m.replace("p=dHzb", "p=dHzc")), Err(ScramError::BadProof));
    assert!(run(&|m| m).is_ok());
}

#[test]
fn client_rejects_foreign_nonce_low_iterations_and_bad_signature() {
    let mech = ScramMechanism::Sha256;
    let start = || {
        let mut client = ScramClient::with_nonce(mech, "user", "pencil", CNONCE);
        client.client_first();
        client
    };
    let bad_first = |msg: String| start().receive_server_first(msg.as_bytes()).unwrap_err();
    assert_eq!(
        bad_first(format!("r=other{SNONCE},s={SALT},i=4096")),
        ScramError::NonceMismatch
    );
    assert_eq!(
        bad_first(format!("r={CNONCE},s={SALT},i=4096")),
        ScramError::NonceMismatch
    );
    assert_eq!(
        bad_first(format!("r={CNONCE}x,s={SALT},i=4095")),
        ScramError::TooFewIterations(4095)
    );
    let mut client = start();
    client
        .receive_server_first(format!("r={CNONCE}x,s={SALT},i=4096").as_bytes())
        .unwrap();
    let forged = format!("v={}", B64.encode([0u8; 32]));
    assert_eq!(
        client.receive_server_final(forged.as_bytes()),
        Err(ScramError::BadServerSignature)
    );
    let mut client = start();
    client
        .receive_server_first(format!("r={CNONCE}x,s={SALT},i=4096").as_bytes())
        .unwrap();
    let err = client.receive_server_final(b"e=invalid-proof").unwrap_err();
    assert_eq!(err, ScramError::ServerError("invalid-proof".into()));
}

#[test]
fn authzid_must_equal_username() {
    let mut server = ScramServer::new(ScramMechanism::Sha256);
    assert_eq!(
        server.receive_client_first(b"n,a=admin,n=alice,r=abc"),
        Err(ScramError::AuthzidMismatch)
    );
    // A matching authzid is accepted, and the channel binding must then carry it.
    let mech = ScramMechanism::Sha256;
    let cred = ScramCredential::new(mech, "pw", 4096);
    let mut server = ScramServer::new(mech);
    server.receive_client_first(b"n,a=alice,n=alice,r=abc").unwrap();
    assert_eq!(server.authzid(), Some("alice"));
    let first = String::from_utf8(server.server_first(Some(&cred)).unwrap()).unwrap();
    let nonce = first.split(',').next().unwrap();
    let err = server.receive_client_final(format!("c=biws,{nonce},p=AAAA").as_bytes());
    assert_eq!(err, Err(ScramError::ChannelBindingMismatch));
}

#[test]
fn server_rejects_weak_or_mismatched_credentials_and_out_of_order_calls() {
    let mech = ScramMechanism::Sha512;
    let mut server = ScramServer::new(mech);
    assert_eq!(server.server_first(None), Err(ScramError::OutOfOrder));
    assert_eq!(server.receive_client_first(b"n,,n=a,r=b"), Err(ScramError::OutOfOrder));
    let mut weak = ScramCredential::from_salted_password(mech, b"salt".to_vec(), &[1; 64], 4096);
    weak.iterations = 1000;
    let mut server = ScramServer::new(mech);
    server.receive_client_first(b"n,,n=a,r=b").unwrap();
    assert_eq!(
        server.server_first(Some(&weak)),
        Err(ScramError::TooFewIterations(1000))
    );
    let sha256 = ScramCredential::from_salted_password(ScramMechanism::Sha256, b"s".to_vec(), &[1; 32], 4096);
    let mut server = ScramServer::new(mech);
    server.receive_client_first(b"n,,n=a,r=b").unwrap();
    assert!(matches!(
        server.server_first(Some(&sha256)),
        Err(ScramError::InvalidCredential(_))
    ));
    assert_eq!(
        server.receive_client_final(b"c=biws,r=b,p=AAAA"),
        Err(ScramError::OutOfOrder)
    );
    let mut client = ScramClient::new(mech, "a", "b");
    assert_eq!(client.receive_server_final(b"v=AAAA"), Err(ScramError::OutOfOrder));
}

#[test]
fn client_first_parsing() {
    let parse = |msg: &[u8]| ScramServer::new(ScramMechanism::Sha256).receive_client_first(msg);
    assert_eq!(parse(b"n,,n=a=2Cb=3Dc,r=x,ext=1,tokenauth=false"), Ok("a,b=c".into()));
    assert_eq!(parse(b"y,,n=a,r=x"), Err(ScramError::UnsupportedGs2Header));
    assert_eq!(parse(b"p=tls-unique,,n=a,r=x"), Err(ScramError::UnsupportedGs2Header));
    assert_eq!(
        parse(b"n,,m=x,n=a,r=x"),
        Err(ScramError::UnsupportedExtension("m".into()))
    );
    assert_eq!(
        parse(b"n,,n=a,r=x,tokenauth=TRUE"),
        Err(ScramError::UnsupportedExtension("tokenauth".into()))
    );
}

#[test]
fn credential_string_round_trip() {
    let cred = ScramCredential::new(ScramMechanism::Sha256, "pw", 8192);
    let text = cred.to_kafka_string();
    assert!(text.starts_with("salt=") && text.contains(",stored_key=") && text.ends_with(",iterations=8192"));
    assert_eq!(ScramCredential::parse_kafka_string(&text), Ok(cred.clone()));
    let reordered = "iterations=4096,server_key=AAEC,stored_key=AwQ=,salt=c2FsdA==";
    let parsed = ScramCredential::parse_kafka_string(reordered).unwrap();
    assert_eq!((parsed.salt.as_slice(), parsed.iterations), (&b"salt"[..], 4096));
    assert_eq!(
        parsed.to_kafka_string(),
        "salt=c2FsdA==,stored_key=AwQ=,server_key=AAEC,iterations=4096"
    );
    for bad in [
        "",
        "salt=c2FsdA==,stored_key=AwQ=,server_key=AAEC",
        "salt=c2FsdA==,stored_key=AwQ=,server_key=AAEC,iterations=x",
        "salt=c2FsdA==,stored_key=AwQ=,server_key=AAEC,iterations=99999999999",
        "salt=c2FsdA=,stored_key=AwQ=,server_key=AAEC,iterations=1",
        "salt=c2FsdA==,salt=c2FsdA==,stored_key=AwQ=,server_key=AAEC,iterations=1",
        "salt=c2FsdA==,stored_key=AwQ=,server_key=AAEC,iterations=1,extra=1",
        "=x,salt=c2FsdA==,stored_key=AwQ=,server_key=AAEC,iterations=1",
    ] {
        assert!(ScramCredential::parse_kafka_string(bad).is_err(), "{bad:?}");
    }
    assert!(!format!("{cred:?}").contains(&B64.encode(&cred.stored_key)));
}

#[test]
fn saslname_escaping_and_mechanism_codes() {
    assert_eq!(escape_saslname("a=b,c"), "a=3Db=2Cc");
    assert_eq!(unescape_saslname("a=3Db=2Cc=3D2C"), Ok("a=b,c=2C".into()));
    for bad in ["=", "a=", "=2", "=2c", "=41", "a,b"] {
        assert!(unescape_saslname(bad).is_err(), "{bad:?}");
    }
    for mech in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
        assert_eq!(ScramMechanism::from_name(mech.name()), Some(mech));
        assert_eq!(ScramMechanism::from_wire_code(mech.wire_code()), Some(mech));
        assert_eq!(mech.hash_len(), mech.hash(b"").len());
    }
    assert_eq!(
        (ScramMechanism::from_name("PLAIN"), ScramMechanism::from_wire_code(0)),
        (None, None)
    );
    assert_eq!(base36_130(&[0xff; 17]), "1omfro7zwmumr3umxudzyj6scf");
    assert_eq!(base36_130(&[0; 17]), "0");
}

#[test]
fn garbage_never_panics() {
    let nasty: &[&[u8]] = &[
        b"",
        b",",
        b",,",
        b"n",
        b"n,",
        b"n,,",
        b"n,,n=",
        b"n,,n=,r=",
        b"n,,n=a",
        b"n,,n=a,r=",
        b"n,,n=a,r=\x7f",
        b"n,a=,n=a,r=b",
        b"n,a=a",
        b"n,,n=\xff,r=b",
        b"\xff\xfe",
        b"n,,n=a=,r=b",
        b"n,,n=a,r=b,",
        b"n,,n=a,r=b,=",
        b"n,,n=a,r=b,1=2",
        b"n,,r=b,n=a",
        b"n,,n=\xc3\xa9,r=b",
        b"n,,n=a\0,r=b",
        b"\0",
        b"c=",
        b"p=",
        b",p=",
        b"c=biws,r=,p=",
        b"c=biws,p=AAAA",
        b"c=biws,r=x,p=A",
        b"c=biws,r=x,p=AAAA,x=1",
        b"c=!!!!,r=x,p=AAAA",
        b"r=",
        b"r=x,s=,i=",
        b"r=x,s=AAAA,i=-1",
        b"r=x,s=AAAA,i=99999999999999999999",
        b"r=x,s=AAAA,i=4096,",
        b"v=",
        b"v=!",
        b"e=",
        b"e",
        b"m=1",
        b"i=4096,s=AAAA,r=x",
    ];
    let cred = ScramCredential::from_salted_password(ScramMechanism::Sha256, b"s".to_vec(), &[7; 32], 4096);
    for &msg in nasty {
        let _ = ScramServer::new(ScramMechanism::Sha256).receive_client_first(msg);
        for cred in [Some(&cred), None] {
            let mut server = ScramServer::new(ScramMechanism::Sha256);
            server.receive_client_first(b"n,,n=u,r=x").unwrap();
            server.server_first(cred).unwrap();
            assert!(server.receive_client_final(msg).is_err());
            assert!(
                server.receive_client_final(msg).is_err(),
                "a failed exchange stays failed"
            );
        }
        let mut client = ScramClient::new(ScramMechanism::Sha256, "u", "p");
        client.client_first();
        let _ = client.receive_server_first(msg);
        let mut client = ScramClient::with_nonce(ScramMechanism::Sha256, "u", "p", "x");
        client.client_first();
        if client.receive_server_first(b"r=xy,s=AAAA,i=4096").is_ok() {
            assert!(client.receive_server_final(msg).is_err());
        }
    }
}
