"""The private `support` text sent to the writer of a message in which risk was found.

Written to safe-messaging guidance: warm and non-judgemental, no talk of
methods, no promises ("everything will be fine"), no guilt, and always an
invitation to reach out to the services listed with it. The text carries no
digits: phone numbers and codes come only from the verified referral data
(`resources` in the same event), so a number here could never go stale or wrong.

Templates are plain data below, one block per language, so reviewers (and
native speakers) can read and correct them in one place. Non-English texts are
written for the language, not translated word for word; they use the informal
register peer-support communities use (tu, tú, você, du), and respectful आप in Hindi.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from moderation.verdict import Severity

__all__ = ["LANGUAGES", "TEMPLATES", "support_text"]

#: Keys every language must define (checked by the tests).
TEMPLATE_KEYS: Final = (
    "self_harm",  # self_harm_risk: the writer may hurt themselves
    "overdose",  # overdose_risk: risky substance use
    "abuse",  # abuse_disclosure: the writer is being / was harmed
    "harm_to_others",  # the writer may hurt someone else
    "encourages",  # encourages_self_harm: the writer urged someone else; a guideline note
    "privacy",  # contact_sharing
    "privacy_youth",  # contact_sharing in a youth room
    "privacy_note",  # contact_sharing on top of another finding
    "imminent_self",  # first line for IMMINENT risk to the writer
    "imminent_other",  # first line for IMMINENT risk to someone else
    "generic",  # no known category
)

TEMPLATES: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "self_harm": (
            "It sounds like you're going through something really painful right now. "
            "Thank you for putting it into words; that takes courage. You don't have to "
            "carry this alone: the people at the services listed below are there to listen, "
            "and reaching out to one of them now can help. If you can, let someone you "
            "trust know how you're feeling too."
        ),
        "overdose": (
            "It sounds like your substance use might be putting you at risk right now, and "
            "we're glad you said something. You don't have to face this alone. If you feel "
            "unwell or unsure, please don't wait: reach out to one of the services listed "
            "below. If you can, stay with someone you trust rather than being on your own."
        ),
        "abuse": (
            "Thank you for trusting us with this. What happened to you is not your fault, "
            "and you deserve to be safe. You don't have to work this out alone: the services "
            "listed below can listen and help you think about next steps, at your own pace."
        ),
        "harm_to_others": (
            "It sounds like you're feeling a lot of anger or hurt right now. Those feelings "
            "matter, and talking them through with someone before acting on them can help. "
            "If you're worried you might hurt someone, please reach out to one of the "
            "services listed below; they're there to listen, without judgement."
        ),
        "encourages": (
            "A quick note from the moderators: your message may have read as encouraging "
            "someone to hurt themselves. People here can be very vulnerable, so our "
            "community guidelines don't allow that; please keep replies supportive. If we "
            "misread you, we're sorry. And if you're struggling yourself, the services "
            "listed below are there for you too."
        ),
        "privacy": (
            "A quick privacy note: your message seems to include contact details, like a "
            "phone number, address or social media handle. To keep everyone safe, it's best "
            "to share those only with people you know and trust offline, and to keep "
            "conversations here on the site."
        ),
        "privacy_youth": (
            "A quick privacy note: your message seems to include contact details, like a "
            "phone number, address or social media handle. It's safest to keep those private "
            "and keep chatting here on the site. If anyone asks you to move to another app, "
            "send photos or meet up, you can always tell a moderator or an adult you trust."
        ),
        "privacy_note": (
            "One more thing: your message may include contact details; for your safety, "
            "think about keeping those private here."
        ),
        "imminent_self": (
            "If you are in danger right now, please call your local emergency number now."
        ),
        "imminent_other": (
            "If someone is in danger right now, please call your local emergency number now."
        ),
        "generic": (
            "Thank you for sharing here. If things feel heavy, the services listed below "
            "are there to listen."
        ),
    },
    "es": {
        "self_harm": (
            "Parece que estás pasando por algo muy doloroso en este momento. Gracias por "
            "ponerlo en palabras; eso requiere valor. No tienes que cargar con esto en "
            "soledad: en los servicios que aparecen abajo hay personas dispuestas a "
            "escucharte, y comunicarte ahora con una de ellas puede ayudarte. Si puedes, "
            "cuéntale también a alguien de confianza cómo te sientes."
        ),
        "overdose": (
            "Parece que el consumo podría estar poniéndote en riesgo ahora mismo, y nos "
            "alegra que lo hayas dicho. No tienes que enfrentarlo en soledad. Si te sientes "
            "mal o tienes dudas, no esperes: comunícate con alguno de los servicios que "
            "aparecen abajo. Si puedes, quédate con alguien de confianza en lugar de estar "
            "a solas."
        ),
        "abuse": (
            "Gracias por confiarnos esto. Lo que te pasó no es tu culpa, y mereces estar a "
            "salvo. No tienes que resolverlo en soledad: los servicios que aparecen abajo "
            "pueden escucharte y ayudarte a pensar en los próximos pasos, a tu ritmo."
        ),
        "harm_to_others": (
            "Parece que sientes mucha rabia o mucho dolor en este momento. Esos sentimientos "
            "importan, y hablarlos con alguien antes de actuar puede ayudar. Si te preocupa "
            "llegar a hacerle daño a alguien, comunícate con uno de los servicios que "
            "aparecen abajo: están para escucharte, sin juzgarte."
        ),
        "encourages": (
            "Una nota breve del equipo de moderación: tu mensaje podría leerse como una "
            "invitación a que alguien se haga daño. Aquí hay personas muy vulnerables, por "
            "eso las normas de la comunidad no lo permiten; te pedimos que tus respuestas "
            "sean de apoyo. Si te entendimos mal, lo sentimos. Y si tú también lo estás "
            "pasando mal, los servicios que aparecen abajo también están para ti."
        ),
        "privacy": (
            "Una nota sobre tu privacidad: parece que tu mensaje incluye datos de contacto, "
            "como un teléfono, una dirección o un usuario de redes sociales. Por la seguridad "
            "de todas las personas, es mejor compartirlos solo con gente que conozcas y en "
            "quien confíes fuera de internet, y seguir las conversaciones aquí, en el sitio."
        ),
        "privacy_youth": (
            "Una nota sobre tu privacidad: parece que tu mensaje incluye datos de contacto, "
            "como un teléfono, una dirección o un usuario de redes sociales. Lo más seguro es "
            "guardarlos para ti y seguir hablando aquí, en el sitio. Si alguien te pide pasar "
            "a otra aplicación, enviar fotos o verse en persona, siempre puedes contárselo a "
            "alguien de moderación o a una persona adulta de confianza."
        ),
        "privacy_note": (
            "Una cosa más: tu mensaje podría incluir datos de contacto; por tu seguridad, "
            "piensa en guardarlos en privado aquí."
        ),
        "imminent_self": (
            "Si estás en peligro ahora mismo, llama ya al número de emergencias de tu zona."
        ),
        "imminent_other": (
            "Si alguien está en peligro ahora mismo, llama ya al número de emergencias de tu zona."
        ),
        "generic": (
            "Gracias por compartirlo aquí. Si las cosas se sienten pesadas, los servicios "
            "que aparecen abajo están para escucharte."
        ),
    },
    "pt": {
        "self_harm": (
            "Parece que você está passando por algo muito doloroso agora. Agradecemos por "
            "você ter colocado isso em palavras; isso exige coragem. Você não precisa "
            "carregar isso sem apoio: nos serviços listados abaixo há pessoas prontas para "
            "ouvir você, e falar com uma delas agora pode ajudar. Se puder, conte também a "
            "alguém de confiança como você está se sentindo."
        ),
        "overdose": (
            "Parece que o uso de substâncias pode estar colocando você em risco agora, e que "
            "bom que você falou. Você não precisa enfrentar isso sem apoio. Se estiver se "
            "sentindo mal ou em dúvida, não espere: entre em contato com um dos serviços "
            "listados abaixo. Se puder, fique perto de alguém de confiança em vez de ficar "
            "sem companhia."
        ),
        "abuse": (
            "Agradecemos a confiança em compartilhar isso. O que aconteceu com você não é "
            "culpa sua, e você merece estar em segurança. Você não precisa resolver isso sem "
            "apoio: os serviços listados abaixo podem ouvir você e ajudar a pensar nos "
            "próximos passos, no seu ritmo."
        ),
        "harm_to_others": (
            "Parece que você está sentindo muita raiva ou muita dor agora. Esses sentimentos "
            "importam, e conversar sobre eles com alguém antes de agir pode ajudar. Se você "
            "tem medo de acabar machucando alguém, entre em contato com um dos serviços "
            "listados abaixo: eles estão lá para ouvir, sem julgamento."
        ),
        "encourages": (
            "Um recado rápido da moderação: sua mensagem pode ter soado como um incentivo "
            "para alguém se machucar. Aqui há pessoas muito vulneráveis, por isso as "
            "diretrizes da comunidade não permitem isso; pedimos que suas respostas sejam de "
            "apoio. Se entendemos errado, desculpe. E se você também estiver passando por um "
            "momento difícil, os serviços listados abaixo também estão aí para você."
        ),
        "privacy": (
            "Um recado sobre privacidade: parece que sua mensagem inclui dados de contato, "
            "como telefone, endereço ou perfil em redes sociais. Para a segurança de todos, "
            "o melhor é compartilhar esses dados só com pessoas que você conhece e em quem "
            "confia fora da internet, e manter as conversas aqui no site."
        ),
        "privacy_youth": (
            "Um recado sobre privacidade: parece que sua mensagem inclui dados de contato, "
            "como telefone, endereço ou perfil em redes sociais. O mais seguro é guardar "
            "esses dados só para você e continuar conversando aqui no site. Se alguém pedir "
            "para você ir para outro aplicativo, mandar fotos ou se encontrar pessoalmente, "
            "você sempre pode contar para a moderação ou para um adulto de confiança."
        ),
        "privacy_note": (
            "Mais uma coisa: sua mensagem pode incluir dados de contato; para sua segurança, "
            "pense em mantê-los em sigilo aqui."
        ),
        "imminent_self": (
            "Se você está em perigo agora, ligue já para o número de emergência local."
        ),
        "imminent_other": (
            "Se alguém está em perigo agora, ligue já para o número de emergência local."
        ),
        "generic": (
            "Agradecemos por compartilhar aqui. Se as coisas estiverem pesadas, os serviços "
            "listados abaixo estão aí para ouvir você."
        ),
    },
    "fr": {
        "self_harm": (
            "On dirait que tu traverses quelque chose de très douloureux en ce moment. Merci "
            "d'avoir réussi à le mettre en mots, ça demande du courage. Tu n'as pas à porter "
            "ça sans soutien : les services indiqués ci-dessous sont là pour t'écouter, et en "
            "contacter un maintenant peut aider. Si tu le peux, dis aussi à une personne de "
            "confiance comment tu te sens."
        ),
        "overdose": (
            "Il semble que ta consommation te mette peut-être en danger en ce moment, et "
            "merci de l'avoir dit. Tu n'as pas à affronter ça sans soutien. Si tu te sens mal "
            "ou si tu as un doute, n'attends pas : contacte l'un des services indiqués "
            "ci-dessous. Si tu le peux, reste auprès d'une personne de confiance plutôt que "
            "de rester sans personne autour de toi."
        ),
        "abuse": (
            "Merci de nous avoir confié ça. Ce qui t'est arrivé n'est pas de ta faute, et tu "
            "mérites d'être en sécurité. Tu n'as pas à gérer ça sans soutien : les services "
            "indiqués ci-dessous peuvent t'écouter et t'aider à réfléchir à la suite, à ton "
            "rythme."
        ),
        "harm_to_others": (
            "On dirait que tu ressens beaucoup de colère ou de douleur en ce moment. Ces "
            "émotions comptent, et en parler à quelqu'un avant d'agir peut aider. Si tu as "
            "peur de faire du mal à quelqu'un, contacte l'un des services indiqués "
            "ci-dessous : ils sont là pour t'écouter, sans jugement."
        ),
        "encourages": (
            "Un petit mot de l'équipe de modération : ton message pourrait être compris "
            "comme une incitation à se faire du mal. Des personnes très vulnérables "
            "fréquentent cet espace, c'est pourquoi les règles de la communauté ne le "
            "permettent pas ; merci de garder des réponses bienveillantes. Si nous t'avons "
            "mal compris, nous nous en excusons. Et si tu traverses toi-même un moment "
            "difficile, les services indiqués ci-dessous sont aussi là pour toi."
        ),
        "privacy": (
            "Un mot sur ta vie privée : ton message semble contenir des coordonnées, comme un "
            "numéro de téléphone, une adresse ou un compte de réseau social. Pour la sécurité "
            "de tout le monde, mieux vaut ne les partager qu'avec des personnes que tu "
            "connais et en qui tu as confiance dans la vraie vie, et garder les échanges ici, "
            "sur le site."
        ),
        "privacy_youth": (
            "Un mot sur ta vie privée : ton message semble contenir des coordonnées, comme un "
            "numéro de téléphone, une adresse ou un compte de réseau social. Le plus sûr est "
            "de les garder pour toi et de continuer à discuter ici, sur le site. Si quelqu'un "
            "te demande de passer sur une autre appli, d'envoyer des photos ou de vous "
            "rencontrer, tu peux toujours en parler à la modération ou à un adulte de "
            "confiance."
        ),
        "privacy_note": (
            "Autre chose : ton message contient peut-être des coordonnées ; pour ta sécurité, "
            "pense à les garder privées ici."
        ),
        "imminent_self": (
            "Si tu es en danger en ce moment, appelle tout de suite le numéro d'urgence local."
        ),
        "imminent_other": (
            "Si quelqu'un est en danger en ce moment, appelle tout de suite le numéro "
            "d'urgence local."
        ),
        "generic": (
            "Merci de partager ça ici. Si c'est lourd en ce moment, les services indiqués "
            "ci-dessous sont là pour t'écouter."
        ),
    },
    "de": {
        "self_harm": (
            "Es klingt, als würdest du gerade etwas sehr Schmerzhaftes durchmachen. Danke, "
            "dass du es in Worte gefasst hast; das braucht Mut. Du musst das nicht allein "
            "tragen: Bei den unten aufgeführten Angeboten hören dir Menschen zu, und es kann "
            "helfen, dich jetzt an eines davon zu wenden. Wenn du kannst, erzähl auch einer "
            "Person, der du vertraust, wie es dir geht."
        ),
        "overdose": (
            "Es klingt, als könnte dein Konsum dich gerade in Gefahr bringen. Gut, dass du "
            "etwas gesagt hast. Du musst da nicht allein durch. Wenn es dir schlecht geht "
            "oder du unsicher bist, warte nicht: Wende dich an eines der unten aufgeführten "
            "Angebote. Wenn du kannst, bleib bei einer Person, der du vertraust, statt allein "
            "zu sein."
        ),
        "abuse": (
            "Danke, dass du uns das anvertraust. Was dir passiert ist, ist nicht deine "
            "Schuld, und du verdienst es, sicher zu sein. Du musst das nicht allein "
            "bewältigen: Die unten aufgeführten Angebote hören dir zu und helfen dir, in "
            "deinem Tempo über nächste Schritte nachzudenken."
        ),
        "harm_to_others": (
            "Es klingt, als wärst du gerade sehr wütend oder verletzt. Diese Gefühle zählen, "
            "und es kann helfen, mit jemandem darüber zu sprechen, bevor du handelst. Wenn du "
            "Sorge hast, jemandem wehzutun, wende dich bitte an eines der unten aufgeführten "
            "Angebote. Dort hört man dir zu, ohne zu urteilen."
        ),
        "encourages": (
            "Ein kurzer Hinweis der Moderation: Deine Nachricht könnte so verstanden werden, "
            "als würdest du jemanden ermutigen, sich selbst zu verletzen. Hier sind Menschen, "
            "die sehr verletzlich sind, deshalb erlauben unsere Community-Richtlinien das "
            "nicht. Bitte antworte unterstützend. Falls wir dich falsch verstanden haben, "
            "tut uns das leid. Und wenn es dir selbst gerade schlecht geht, sind die unten "
            "aufgeführten Angebote auch für dich da."
        ),
        "privacy": (
            "Ein Hinweis zu deiner Privatsphäre: Deine Nachricht scheint Kontaktdaten zu "
            "enthalten, etwa eine Telefonnummer, eine Adresse oder einen Social-Media-Namen. "
            "Zur Sicherheit aller teilst du sie am besten nur mit Menschen, die du auch "
            "außerhalb des Internets kennst und denen du vertraust, und führst Gespräche "
            "hier auf der Seite."
        ),
        "privacy_youth": (
            "Ein Hinweis zu deiner Privatsphäre: Deine Nachricht scheint Kontaktdaten zu "
            "enthalten, etwa eine Telefonnummer, eine Adresse oder einen Social-Media-Namen. "
            "Behalte sie lieber für dich und bleib mit deinen Gesprächen hier auf der Seite. "
            "Wenn dich jemand bittet, in eine andere App zu wechseln, Fotos zu schicken oder "
            "dich zu treffen, kannst du dich jederzeit an die Moderation oder an eine "
            "erwachsene Person wenden, der du vertraust."
        ),
        "privacy_note": (
            "Noch etwas: Deine Nachricht enthält vielleicht Kontaktdaten. Zu deiner "
            "Sicherheit behalte sie hier lieber für dich."
        ),
        "imminent_self": (
            "Wenn du gerade in Gefahr bist, ruf bitte sofort den örtlichen Notruf an."
        ),
        "imminent_other": (
            "Wenn jemand gerade in Gefahr ist, ruf bitte sofort den örtlichen Notruf an."
        ),
        "generic": (
            "Danke, dass du das hier teilst. Wenn es gerade schwer ist, sind die unten "
            "aufgeführten Angebote da, um dir zuzuhören."
        ),
    },
    "hi": {
        "self_harm": (
            "लगता है कि आप इस समय किसी बहुत तकलीफ़देह दौर से गुज़र रहे हैं। इसे शब्दों में "
            "कहने के लिए शुक्रिया — इसके लिए हिम्मत चाहिए। आपको यह बोझ अकेले नहीं उठाना है: "
            "नीचे दी गई सेवाओं में लोग आपकी बात सुनने के लिए मौजूद हैं, और अभी उनमें से किसी "
            "से संपर्क करना मददगार हो सकता है। हो सके तो किसी भरोसेमंद व्यक्ति को भी बताइए कि "
            "आप कैसा महसूस कर रहे हैं।"
        ),
        "overdose": (
            "लगता है कि नशे या किसी पदार्थ के सेवन की वजह से आप इस समय जोखिम में हो सकते हैं, "
            "और अच्छा किया कि आपने यह बताया। आपको इसका सामना अकेले नहीं करना है। अगर आपकी "
            "तबीयत ठीक नहीं लग रही या आप असमंजस में हैं, तो इंतज़ार मत कीजिए: नीचे दी गई किसी "
            "सेवा से संपर्क कीजिए। हो सके तो अकेले रहने के बजाय किसी भरोसेमंद व्यक्ति के साथ "
            "रहिए।"
        ),
        "abuse": (
            "हम पर भरोसा करके यह बताने के लिए शुक्रिया। आपके साथ जो हुआ, उसमें आपकी कोई ग़लती "
            "नहीं है, और आप सुरक्षित रहने के हक़दार हैं। आपको इससे अकेले नहीं निपटना है: नीचे "
            "दी गई सेवाएँ आपकी बात सुन सकती हैं और अपनी रफ़्तार से आगे के कदमों के बारे में "
            "सोचने में आपकी मदद कर सकती हैं।"
        ),
        "harm_to_others": (
            "लगता है कि आप इस समय बहुत ग़ुस्से या दर्द में हैं। ये भावनाएँ मायने रखती हैं, और "
            "कुछ करने से पहले किसी से इनके बारे में बात करना मदद कर सकता है। अगर आपको डर है कि "
            "आप किसी को नुकसान पहुँचा सकते हैं, तो कृपया नीचे दी गई किसी सेवा से संपर्क "
            "कीजिए — वहाँ लोग बिना आलोचना किए आपकी बात सुनते हैं।"
        ),
        "encourages": (
            "मॉडरेटर्स की ओर से एक छोटी-सी बात: आपका संदेश ऐसा लग सकता है जैसे आप किसी को "
            "ख़ुद को नुकसान पहुँचाने के लिए उकसा रहे हों। यहाँ बहुत नाज़ुक हालात से गुज़र रहे "
            "लोग भी हैं, इसलिए हमारे सामुदायिक दिशानिर्देश इसकी इजाज़त नहीं देते — कृपया अपने "
            "जवाब सहारा देने वाले रखें। अगर हमने आपको ग़लत समझा हो, तो माफ़ कीजिए। और अगर आप "
            "ख़ुद किसी मुश्किल दौर से गुज़र रहे हैं, तो नीचे दी गई सेवाएँ आपके लिए भी हैं।"
        ),
        "privacy": (
            "आपकी निजता के बारे में एक बात: लगता है आपके संदेश में संपर्क की जानकारी है, जैसे "
            "फ़ोन नंबर, पता या सोशल मीडिया हैंडल। सबकी सुरक्षा के लिए, ऐसी जानकारी सिर्फ़ उन्हीं "
            "लोगों से साझा करें जिन्हें आप असल ज़िंदगी में जानते हैं और जिन पर भरोसा करते हैं, "
            "और बातचीत यहीं इस साइट पर रखें।"
        ),
        "privacy_youth": (
            "आपकी निजता के बारे में एक बात: लगता है आपके संदेश में संपर्क की जानकारी है, जैसे "
            "फ़ोन नंबर, पता या सोशल मीडिया हैंडल। ऐसी जानकारी अपने तक ही रखें और बातचीत यहीं "
            "इस साइट पर करें। अगर कोई आपसे किसी दूसरे ऐप पर चलने, फ़ोटो भेजने या मिलने को कहे, "
            "तो आप कभी भी किसी मॉडरेटर या किसी भरोसेमंद बड़े व्यक्ति को बता सकते हैं।"
        ),
        "privacy_note": (
            "एक और बात: आपके संदेश में शायद संपर्क की जानकारी है — अपनी सुरक्षा के लिए उसे यहाँ "
            "निजी रखने के बारे में सोचिए।"
        ),
        "imminent_self": (
            "अगर आप इस समय ख़तरे में हैं, तो कृपया अभी अपने स्थानीय आपातकालीन नंबर पर कॉल कीजिए।"
        ),
        "imminent_other": (
            "अगर कोई इस समय ख़तरे में है, तो कृपया अभी अपने स्थानीय आपातकालीन नंबर पर कॉल कीजिए।"
        ),
        "generic": (
            "यहाँ साझा करने के लिए शुक्रिया। अगर मन भारी लग रहा हो, तो नीचे दी गई सेवाएँ आपकी "
            "बात सुनने के लिए मौजूद हैं।"
        ),
    },
}

LANGUAGES: Final = tuple(TEMPLATES)

#: Which template speaks to a finding, most urgent first: the first category of the
#: verdict found here picks the main text.
_PRIMARY: Final = (
    ("self_harm_risk", "self_harm"),
    ("overdose_risk", "overdose"),
    ("abuse_disclosure", "abuse"),
    ("harm_to_others", "harm_to_others"),
    ("encourages_self_harm", "encourages"),
    ("contact_sharing", "privacy"),
)
#: Risk to the writer: imminent means "call now" addressed to them.
_SELF_RISK: Final = frozenset({"self_harm", "overdose", "abuse", "generic"})
#: Risk to someone else: imminent means "if someone is in danger, call now".
_OTHER_RISK: Final = frozenset({"harm_to_others", "encourages"})


def _language(lang: str) -> Mapping[str, str]:
    """Templates for `lang` ("pt-BR" -> "pt"), falling back to English."""
    primary = lang.strip().replace("_", "-").split("-", 1)[0].lower()
    return TEMPLATES.get(primary, TEMPLATES["en"])


def support_text(
    categories: Sequence[str],
    severity: Severity,
    lang: str = "en",
    *,
    youth: bool = False,
) -> str:
    """Private support text for the writer of a risky message, in `lang` where we have it.

    IMMINENT risk opens with a plea to call the local emergency number now (the
    number itself is the first resource sent alongside). Contact sharing in a
    youth room (`youth=True`) gets the note about being asked to move apps or meet.
    Contains no digits: numbers belong only in the resources.
    """
    texts = _language(lang)
    found = set(categories)
    key = next((k for category, k in _PRIMARY if category in found), "generic")
    if key == "privacy" and youth:
        key = "privacy_youth"
    parts: list[str] = []
    if severity >= Severity.IMMINENT:
        if key in _SELF_RISK:
            parts.append(texts["imminent_self"])
        elif key in _OTHER_RISK:
            parts.append(texts["imminent_other"])
    parts.append(texts[key])
    if "contact_sharing" in found and key not in ("privacy", "privacy_youth"):
        parts.append(texts["privacy_note"])
    return " ".join(parts)
