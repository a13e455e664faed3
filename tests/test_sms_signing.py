"""Aliyun and Tencent request signing, checked against their documentation's worked examples."""

from __future__ import annotations

import hashlib

from sms_gateway.providers import Outgoing
from sms_gateway.providers.aliyun import send_params
from sms_gateway.providers.aliyun import signature as aliyun_signature
from sms_gateway.providers.tencent import Tencent, e164, sign
from sms_gateway.texts import ProviderTemplate


def test_aliyun_rpc_signature_matches_the_documented_example() -> None:
    # Alibaba Cloud SMS documentation, "HTTP协议及签名" / "Signature method"
    # (help.aliyun.com/document_detail/101343.html): the SendSms example with AccessKeySecret
    # "testSecret" signs to zJDF+Lrzhj/ThnlvIToysFRq6t4= (URL-encoded zJDF%2BLrzhj%2F…%3D).
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert aliyun_signature("testSecret", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_signature("testSecret", params, "POST") != "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_signature("otherSecret", params) != "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_send_parameters() -> None:
    message = Outgoing(
        "demo/t1/called/0",
        "13800001111",
        "",
        "called",
        "zh",
        "demo",
        "t1",
        ProviderTemplate("SMS_3", {"number": "A012", "window": "3号窗口"}, "示范区政务服务中心"),
    )
    params = send_params("id", "cn-hangzhou", message, 1499827339.0, "nonce")
    assert params["Timestamp"] == "2017-07-12T02:42:19Z"
    assert params["TemplateParam"] == '{"number": "A012", "window": "3号窗口"}'
    assert (params["OutId"], params["SignName"]) == ("demo/t1/called/0", "示范区政务服务中心")


def test_tencent_tc3_signature_matches_the_documented_example() -> None:
    # Tencent Cloud API 3.0 documentation, "Signature v3" (签名方法 v3,
    # tencentcloud.com/document/api/213/33224): DescribeInstances at cvm, timestamp
    # 1551113065, SecretKey Gu5t9xGARNpq86cd98joQYCN3EXAMPLE.
    payload = (
        b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    assert hashlib.sha256(payload).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    signed = sign(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "cvm",
        "cvm.tencentcloudapi.com",
        payload,
        1551113065,
    )
    assert hashlib.sha256(signed.canonical_request.encode()).hexdigest() == (
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    assert signed.string_to_sign.splitlines()[:3] == [
        "TC3-HMAC-SHA256",
        "1551113065",
        "2019-02-25/cvm/tc3_request",
    ]
    assert signed.authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_tencent_send_request() -> None:
    provider = Tencent(
        "id", "key", "1400000000", "ap-guangzhou", "https://sms.tencentcloudapi.com/", 5
    )
    message = Outgoing(
        "demo/t1/near/0",
        "13800001111",
        "",
        "near",
        "zh",
        "demo",
        "t1",
        ProviderTemplate("1000002", ["3"], "示范区政务服务中心"),
    )
    body, headers = provider.request(message, 1551113065)
    assert b'"PhoneNumberSet": ["+8613800001111"]' in body
    assert b'"TemplateParamSet": ["3"]' in body and b'"SessionContext": "demo/t1/near/0"' in body
    assert headers["X-TC-Action"] == "SendSms" and headers["X-TC-Version"] == "2021-01-11"
    assert (
        headers["Authorization"]
        == sign("id", "key", "sms", "sms.tencentcloudapi.com", body, 1551113065).authorization
    )
    assert e164("+85291234567") == "+85291234567"
